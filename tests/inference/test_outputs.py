"""Outputs are safe: existing files refused unless --overwrite, modes follow the umask, SIGTERM
leaves nothing behind, export names match their format."""

from __future__ import annotations

import json
import os
import signal
import stat
from pathlib import Path

import numpy as np
import pytest

from hicd.atomic import atomic_directory, atomic_path, current_umask, interrupts_deferred
from hicd.cli.main import main


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def listing(folder: Path) -> list[str]:
    """Every entry under ``folder``, hidden ones included."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture
def pair(geotiff, random_image, tmp_path) -> list[str]:
    (tmp_path / "in").mkdir()
    t1 = geotiff(tmp_path / "in" / "t1.tif", random_image(40, 48, seed=1))
    t2 = geotiff(tmp_path / "in" / "t2.tif", random_image(40, 48, seed=2))
    return ["--t1", str(t1), "--t2", str(t2)]


def predict_argv(checkpoint: Path, pair: list[str], out: Path, *extra: str) -> list[str]:
    vector = str(out.with_suffix(".geojson"))
    return ["predict", "--checkpoint", str(checkpoint), *pair, "--out", str(out), "--quiet",
            "--vector", vector, *extra]  # fmt: skip


def test_current_umask_reads_without_changing(tmp_path, umask) -> None:
    with umask(0o027):
        assert current_umask() == 0o027
        assert current_umask() == 0o027


@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o077, 0o600)])
def test_predict_outputs_follow_the_umask(tiny_checkpoint, pair, tmp_path, mask, expected, umask):
    out = tmp_path / "out" / "change.tif"
    with umask(mask):
        assert main(predict_argv(tiny_checkpoint, pair, out)) == 0
    for path in (out, out.with_suffix(".png"), out.with_suffix(".geojson")):
        assert mode(path) == expected, path.name


def test_atomic_writes_follow_the_umask(tmp_path, umask) -> None:
    with umask(0o022):
        with atomic_path(tmp_path / "file.txt") as tmp:
            tmp.write_text("x")
        with atomic_directory(tmp_path / "folder") as tmp:
            (tmp / "inner.txt").write_text("y")
    assert mode(tmp_path / "file.txt") == 0o644
    assert mode(tmp_path / "folder") == 0o755
    assert mode(tmp_path / "folder" / "inner.txt") == 0o644


def test_interrupts_wait_for_the_end_of_a_deferred_block() -> None:
    reached = False
    # a shell's background job inherits SIGINT ignored; the block must defer Python's handler
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt), interrupts_deferred():
            signal.raise_signal(signal.SIGINT)
            reached = True
        assert reached and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, inherited)


def test_atomic_directory_keeps_the_old_folder_when_the_swap_fails(tmp_path, monkeypatch):
    target = tmp_path / "folder"
    target.mkdir()
    (target / "old.txt").write_text("old")
    replace = os.replace

    def failing_second_rename(source, destination):
        if Path(destination) == target and ".part" in Path(source).name:
            raise OSError("disk gone")  # the new folder cannot take the place of the old one
        replace(source, destination)

    monkeypatch.setattr(os, "replace", failing_second_rename)
    with (
        pytest.raises(OSError, match="disk gone"),
        atomic_directory(target, overwrite=True) as tmp,
    ):
        (tmp / "new.txt").write_text("new")
    assert listing(tmp_path) == ["folder", "folder/old.txt"]


@pytest.mark.parametrize(("mask", "files", "folders"), [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700)])  # fmt: skip
def test_degrade_outputs_follow_the_umask(generic_dataset, tmp_path, mask, files, folders, umask):
    out = tmp_path / "degraded"
    with umask(mask):
        argv = ["degrade", "--data", str(generic_dataset()), "--out", str(out)]
        assert main([*argv, "--setting", "resolution", "--quiet"]) == 0
    assert mode(out) == folders
    entries = list(out.rglob("*"))
    assert entries
    for path in entries:
        assert mode(path) == (folders if path.is_dir() else files), path


def test_predict_refuses_existing_outputs_unless_overwrite(tiny_checkpoint, pair, tmp_path, capsys):
    out = tmp_path / "change.tif"
    argv = predict_argv(tiny_checkpoint, pair, out)
    assert main(argv) == 0
    capsys.readouterr()
    outputs = [out, out.with_suffix(".png"), out.with_suffix(".geojson")]
    for existing in outputs:
        for path in outputs:
            path.unlink()
        existing.write_text("keep me")
        assert main(argv) == 2
        error = capsys.readouterr().err
        assert (
            f"{existing}: output exists; give --overwrite (overwrite=True in Python) to replace it"
            in error
        )
        assert existing.read_text() == "keep me"
        assert [p for p in outputs if p.exists()] == [existing]
        for path in outputs:
            path.touch()
    assert main([*argv, "--overwrite"]) == 0
    assert out.stat().st_size > 100 and "FeatureCollection" in outputs[2].read_text()
    for path in outputs:
        path.unlink()
    out.mkdir()  # a folder in the way is refused even with --overwrite, in one line
    assert main([*argv, "--overwrite"]) == 2
    assert f"{out}: output is a folder; give a file path" in capsys.readouterr().err
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_predict_folders_checks_every_output_before_predicting(
    tiny_checkpoint, png_writer, tmp_path, capsys
):
    rng = np.random.default_rng(0)
    for name in ("one", "two"):
        for date in ("A", "B"):
            png_writer(tmp_path / date / f"{name}.png", rng.integers(0, 256, (40, 48, 3)))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "two.png").write_text("keep me")
    argv = [
        "predict",
        "--checkpoint",
        str(tiny_checkpoint),
        "--quiet",
        "--out",
        str(tmp_path / "out"),
    ]
    argv += ["--t1", str(tmp_path / "A"), "--t2", str(tmp_path / "B")]
    assert main(argv) == 2
    assert "two.png: output exists; give --overwrite" in capsys.readouterr().err
    assert listing(tmp_path / "out") == ["two.png"]  # one.tif was not predicted either
    assert main([*argv, "--overwrite"]) == 0
    assert listing(tmp_path / "out") == ["one.png", "one.tif", "two.png", "two.tif"]


def has_part(folder: Path) -> bool:
    return any(p.name.endswith(".part") for p in folder.iterdir())


def test_sigterm_leaves_no_output_and_no_temporary_file(
    geotiff, tiny_checkpoint, tmp_path, terminate_hicd
):
    rng = np.random.default_rng(0)
    t1 = geotiff(tmp_path / "t1.tif", rng.integers(0, 256, (3, 2048, 2048), np.uint8))
    t2 = geotiff(tmp_path / "t2.tif", rng.integers(0, 256, (3, 2048, 2048), np.uint8))
    out = tmp_path / "out"
    out.mkdir()
    argv = predict_argv(tiny_checkpoint, ["--t1", str(t1), "--t2", str(t2)], out / "change.tif")
    code, stderr = terminate_hicd(argv, lambda: has_part(out))
    assert code == 143, stderr
    assert "hicd: interrupted (SIGTERM)" in stderr
    assert listing(out) == []


def test_sigterm_during_degrade_keeps_the_previous_output(
    generic_dataset, tmp_path, terminate_hicd
):
    data = generic_dataset(names=[f"p{i:02d}" for i in range(40)], size=(256, 256))
    out = tmp_path / "out"
    argv = ["degrade", "--data", str(data), "--out", str(out / "deg"), "--setting", "multi-x4"]
    assert main([*argv, "--quiet"]) == 0
    before = {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    code, stderr = terminate_hicd([*argv, "--overwrite", "--quiet"], lambda: has_part(out))
    assert code == 143, stderr
    assert {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()} == before
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_sigterm_during_evaluate_keeps_finished_settings(
    generic_dataset, tiny_checkpoint, tmp_path, terminate_hicd
):
    data = generic_dataset(names=[f"p{i:02d}" for i in range(12)], size=(96, 96))
    out = tmp_path / "out"
    argv = ["evaluate", "--checkpoint", str(tiny_checkpoint), "--data", str(data)]
    argv += ["--out", str(out), "--settings", "single", "--quiet"]
    code, stderr = terminate_hicd(argv, lambda: (out / "progress.json").is_file())
    assert code == 143, stderr
    rows = json.loads((out / "results.json").read_text())
    assert 1 <= len({row["setting"] for row in rows}) < 30  # finished settings, not all
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_sigterm_is_restored_after_main(tmp_path) -> None:
    before = signal.getsignal(signal.SIGTERM)
    main(["export", "--checkpoint", str(tmp_path / "none.ckpt"), "--out", str(tmp_path / "m.onnx")])
    assert signal.getsignal(signal.SIGTERM) is before


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_export_checks_name_and_existing_file(tiny_checkpoint, tmp_path, capsys, umask) -> None:
    base = ["export", "--checkpoint", str(tiny_checkpoint)]
    assert main([*base, "--out", str(tmp_path / "m.txt")]) == 2
    assert "--out " + str(tmp_path / "m.txt") + ": a onnx file must end in .onnx" in (
        capsys.readouterr().err
    )
    assert main([*base, "--format", "torchscript", "--out", str(tmp_path / "m.onnx")]) == 2
    assert "a torchscript file must end in .pt or .pth" in capsys.readouterr().err
    assert listing(tmp_path) == []

    out = tmp_path / "m.pt"
    out.write_text("keep me")
    assert main([*base, "--format", "torchscript", "--out", str(out)]) == 2
    assert (
        f"{out}: --out exists; give --overwrite (overwrite=True in Python) to replace it"
        in capsys.readouterr().err
    )
    assert out.read_text() == "keep me"
    with umask(0o022):
        argv = [*base, "--format", "torchscript", "--out", str(out), "--overwrite"]
        assert main(argv) == 0
    assert out.stat().st_size > 1000 and mode(out) == 0o644
    assert listing(tmp_path) == ["m.pt"]
    (tmp_path / "dir.pt").mkdir()
    argv = [*base, "--format", "torchscript", "--out", str(tmp_path / "dir.pt"), "--overwrite"]
    assert main(argv) == 2
    assert "dir.pt: --out is a folder; give a file path" in capsys.readouterr().err
