"""Folder mode of `hicd predict` for many pairs: --resume, and pairs spread over processes."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.errors import NotGeoreferencedWarning
from tests.cli.test_predict_export import tiny_checkpoint

import hicd
from hicd.cli.main import main

NAMES = ("a", "b", "c", "d")
LAUNCH_ENV = ("LOCAL_RANK", "RANK", "WORLD_SIZE", "NODE_RANK", "GROUP_RANK", "MASTER_ADDR")
"""Variables of a surrounding launcher that would make Lightning join it instead of launching."""


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """The tiny untrained checkpoint of the predict/export CLI tests."""
    return tiny_checkpoint(tmp_path_factory)


@pytest.fixture
def folders(png_writer, tmp_path) -> list[str]:
    """``--t1 A --t2 B`` with one 64×64 pair per name of ``NAMES``."""
    rng = np.random.default_rng(0)
    for name in NAMES:
        for date in ("A", "B"):
            png_writer(tmp_path / date / f"{name}.png", rng.integers(0, 256, (64, 64, 3)))
    return ["--t1", str(tmp_path / "A"), "--t2", str(tmp_path / "B")]


def outputs(out: Path, vector: Path, name: str) -> list[Path]:
    return [out / f"{name}.tif", out / f"{name}.png", vector / f"{name}.geojson"]


def stamp(path: Path) -> tuple[int, int]:
    """Inode and modification time: a file rewritten (atomically) changes both."""
    status = path.stat()
    return status.st_ino, status.st_mtime_ns


def wrote(stdout: str) -> list[str]:
    """Names of the maps a run says it wrote, in order."""
    return [Path(path).stem for path in re.findall(r"^wrote (\S+)", stdout, re.MULTILINE)]


def read_map(path: Path) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path) as dataset:
            return dataset.read(1)


def test_resume_predicts_only_the_missing_pairs(checkpoint, folders, tmp_path, capsys):
    out, vector = tmp_path / "out", tmp_path / "vec"
    argv = ["predict", "--checkpoint", str(checkpoint), *folders, "--out", str(out)]
    argv += ["--vector", str(vector), "--quiet", "--no-inspect"]
    assert main(argv) == 0
    assert wrote(capsys.readouterr().out) == list(NAMES)
    files = {name: outputs(out, vector, name) for name in NAMES}
    original = {path: path.read_bytes() for path in files["b"]}
    stamps = {path: stamp(path) for name in NAMES for path in files[name]}

    for path in files["b"]:  # an interrupted run: b's outputs were never renamed into place
        path.unlink()
    assert main([*argv, "--resume"]) == 0
    stdout = capsys.readouterr().out
    assert "resume: skipped 3 of 4 pairs (outputs complete), 1 to predict" in stdout
    assert wrote(stdout) == ["b"]
    assert {path: path.read_bytes() for path in files["b"]} == original
    for name in ("a", "c", "d"):
        assert all(stamp(path) == stamps[path] for path in files[name])

    (out / "c.png").unlink()  # only some of c's outputs: refused without --overwrite
    assert main([*argv, "--resume"]) == 2
    error = capsys.readouterr().err.strip()
    assert error == (
        f"hicd: error: {out / 'c.tif'}: output exists but {out / 'c.png'} does not "
        "(an unfinished pair); give --overwrite to predict the pair again"
    )
    assert stamp(out / "c.tif") == stamps[out / "c.tif"]
    assert main([*argv, "--resume", "--overwrite"]) == 0
    assert wrote(capsys.readouterr().out) == ["c"]
    assert (out / "c.png").is_file() and stamp(out / "c.tif") != stamps[out / "c.tif"]
    assert stamp(out / "a.tif") == stamps[out / "a.tif"]

    assert main([*argv, "--resume"]) == 0
    stdout = capsys.readouterr().out
    assert "skipped 4 of 4 pairs" in stdout and wrote(stdout) == []
    assert main(argv) == 2  # without --resume, existing outputs are refused as before
    assert "a.tif: output exists; give --overwrite" in capsys.readouterr().err


def test_resume_and_devices_need_folders(checkpoint, folders, tmp_path, capsys):
    pair = ["--t1", str(tmp_path / "A" / "a.png"), "--t2", str(tmp_path / "B" / "a.png")]
    argv = ["predict", "--checkpoint", str(checkpoint), *pair, "--out", str(tmp_path / "x.tif")]
    assert main([*argv, "--resume"]) == 2
    assert capsys.readouterr().err.strip() == (
        "hicd: error: --resume applies to folders of pairs: give folders for --t1, --t2 and --out"
    )
    assert main([*argv, "--devices", "2"]) == 2
    assert "--devices/--num-nodes applies to folders of pairs" in capsys.readouterr().err
    argv = ["predict", "--checkpoint", str(checkpoint), *folders, "--out", str(tmp_path / "o")]
    assert main([*argv, "--devices", "2", "--device", "cpu:0"]) == 2
    assert "--device cpu:0: with --devices or --num-nodes give cpu" in capsys.readouterr().err
    assert not (tmp_path / "x.tif").exists() and not (tmp_path / "o").exists()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def hicd_cli(argv: list[str], cache: Path) -> subprocess.CompletedProcess:
    """``python -m hicd.cli.main ARGV`` in a fresh process, as Lightning's launcher needs
    (it runs the same command line again for local rank 1)."""
    env = {k: v for k, v in os.environ.items() if k not in LAUNCH_ENV and "SLURM" not in k}
    source = str(Path(hicd.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (source, env.get("PYTHONPATH")) if p)
    env.update(HICD_CACHE_DIR=str(cache), MASTER_PORT=str(free_port()), OMP_NUM_THREADS="1")
    command = [sys.executable, "-m", "hicd.cli.main", *argv]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_two_cpu_processes_write_each_pair_once_as_one_process_does(
    checkpoint, folders, tmp_path, capsys
):
    base = ["predict", "--checkpoint", str(checkpoint), *folders, "--quiet", "--probabilities"]
    one, two = tmp_path / "one", tmp_path / "two"
    assert main([*base, "--out", str(one), "--vector", str(one / "vec"), "--threads", "1"]) == 0
    capsys.readouterr()

    spread = [*base, "--out", str(two), "--vector", str(two / "vec"), "--threads", "2"]
    spread += ["--device", "cpu", "--devices", "2", "--strategy", "ddp"]
    cache = tmp_path / "cache"
    run = hicd_cli(spread, cache)
    assert run.returncode == 0, run.stderr
    assert sorted(wrote(run.stdout)) == list(NAMES)  # each pair by exactly one process
    assert "predicted 4 pairs with 2 processes" in run.stdout
    for name in NAMES:
        for path in outputs(one, one / "vec", name):
            twin = two / path.relative_to(one)
            assert twin.read_bytes() == path.read_bytes(), twin
        assert np.array_equal(read_map(two / f"{name}.tif"), read_map(one / f"{name}.tif"))
    listing = sorted(p.name for p in two.rglob("*") if p.is_file())
    assert len(listing) == 3 * len(NAMES)  # no temporary file left
    assert [p.suffix for p in (cache / "onnx").iterdir()] == [".onnx"]  # one export, whole

    for path in outputs(two, two / "vec", "c"):
        path.unlink()
    run = hicd_cli([*spread, "--resume"], cache)
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("resume: skipped 3 of 4 pairs") == 1  # rank 0 only
    assert wrote(run.stdout) == ["c"]
    assert "predicted 1 pair with 2 processes" in run.stdout
    assert (two / "c.tif").read_bytes() == (one / "c.tif").read_bytes()

    run = hicd_cli(spread, cache)  # refused before any process is started
    assert run.returncode == 2
    last = run.stderr.strip().splitlines()[-1]
    assert (
        last
        == f"hicd: error: {two / 'a.tif'}: output exists; give --overwrite (overwrite=True in Python) to replace it"
    )
    assert "Initializing distributed" not in run.stderr


@pytest.mark.slow
def test_two_processes_read_a_dataset_layout(checkpoint, folders, tmp_path, capsys):
    """--data (here the generic layout of A/ and B/) spreads its pairs like two folders do."""
    base = ["predict", "--checkpoint", str(checkpoint), "--quiet", "--no-inspect"]
    one, two = tmp_path / "one", tmp_path / "two"
    assert main([*base, *folders, "--out", str(one), "--threads", "1"]) == 0
    capsys.readouterr()
    spread = [*base, "--data", str(tmp_path), "--out", str(two), "--threads", "2"]
    run = hicd_cli([*spread, "--device", "cpu", "--devices", "2"], tmp_path / "cache")
    assert run.returncode == 0, run.stderr
    assert sorted(wrote(run.stdout)) == list(NAMES)
    for name in NAMES:
        assert (two / f"{name}.tif").read_bytes() == (one / f"{name}.tif").read_bytes()


@pytest.mark.slow
def test_an_error_on_one_process_stops_all_after_their_share(checkpoint, folders, tmp_path):
    (tmp_path / "B" / "d.png").write_text("not an image")  # d: the second pair of rank 1
    out = tmp_path / "out"
    argv = ["predict", "--checkpoint", str(checkpoint), *folders, "--out", str(out), "--quiet"]
    argv += ["--device", "cpu", "--devices", "2", "--no-inspect"]
    run = hicd_cli(argv, tmp_path / "cache")
    assert run.returncode == 2
    assert sorted(wrote(run.stdout)) == ["a", "b", "c"], (run.stdout, run.stderr)
    errors = [line for line in run.stderr.splitlines() if line.startswith("hicd: error:")]
    assert errors and all("d.png: unreadable raster" in line for line in errors)
    assert any(line.startswith("hicd: error: process 1 of 2: ") for line in errors)  # rank 0's
    assert sorted(p.name for p in out.iterdir()) == [
        "a.png", "a.tif", "b.png", "b.tif", "c.png", "c.tif"
    ]  # fmt: skip
