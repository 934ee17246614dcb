"""`hicd degrade` never modifies its input; --overwrite replaces only its own output; CLI options."""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from pathlib import Path

import pytest

from hicd.cli.degrade import setting_from_args
from hicd.cli.main import main
from hicd.data.degraded_copy import write_degraded_dataset
from hicd.errors import ConfigError


def tree_state(root: Path) -> dict[str, str]:
    """Every entry under ``root`` (hidden ones included): file hashes, folders and links."""
    state = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_symlink():
            state[key] = f"link:{path.readlink()}"
        elif path.is_file():
            state[key] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            state[key] = "folder"
    return state


def degrade(*options: str) -> int:
    return main(["degrade", "--quiet", *options])


@pytest.fixture
def dataset(generic_dataset) -> Path:
    return generic_dataset(names=("a", "b"), size=(16, 16), splits={"train": ["a"]})


def test_out_equal_to_data_with_overwrite_leaves_source_untouched(dataset, capsys) -> None:
    before = tree_state(dataset.parent)
    code = degrade(
        "--data", str(dataset), "--out", str(dataset), "--setting", "multi", "--overwrite"
    )
    error = capsys.readouterr().err
    assert code == 2
    assert f"--out {dataset} is the --data folder {dataset}" in error
    assert len(error.strip().splitlines()) == 1
    assert tree_state(dataset.parent) == before  # B/ byte-identical, no .*.part left


def test_out_parent_of_data_with_overwrite_leaves_everything_untouched(dataset, capsys) -> None:
    (dataset.parent / "notes.txt").write_text("unrelated")
    before = tree_state(dataset.parent)
    code = degrade(
        "--data", str(dataset), "--out", str(dataset.parent), "--setting", "resolution-x2",
        "--overwrite",
    )  # fmt: skip
    error = capsys.readouterr().err
    assert code == 2
    assert f"--out {dataset.parent} contains the --data folder {dataset}" in error
    assert tree_state(dataset.parent) == before


def test_out_inside_data_is_refused_and_not_created(dataset, capsys) -> None:
    before = tree_state(dataset)
    code = degrade(
        "--data", str(dataset), "--out", str(dataset / "B" / "deg"), "--setting", "multi"
    )
    assert code == 2
    assert "is inside the --data folder" in capsys.readouterr().err
    assert tree_state(dataset) == before


def test_out_link_onto_data_or_a_linked_data_folder_is_refused(dataset, tmp_path) -> None:
    before = tree_state(dataset)
    link = tmp_path / "link"
    link.symlink_to(dataset)
    message = f"--out {link} (resolved: {dataset}) is the --data folder"
    with pytest.raises(ConfigError, match=re.escape(message)):
        write_degraded_dataset(dataset, link, "multi-x2", overwrite=True, progress=False)
    assert tree_state(dataset) == before
    # --data/B is a link to a folder that --out would contain
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (dataset / "B").rename(elsewhere / "B")
    (dataset / "B").symlink_to(elsewhere / "B")
    with pytest.raises(ConfigError, match=r"contains .*B \(part of --data\)"):
        write_degraded_dataset(dataset, elsewhere, "multi-x2", overwrite=True, progress=False)
    assert sorted(p.name for p in elsewhere.iterdir()) == ["B"]


def test_overwrite_refuses_folder_that_is_not_a_degrade_output(dataset, tmp_path) -> None:
    out = tmp_path / "out"
    (out / "B").mkdir(parents=True)
    (out / "B" / "a.png").write_bytes(b"mine")
    (out / "degradation.json").write_text('{"setting": "multi-x4"}')  # keys missing
    before = tree_state(out)
    with pytest.raises(ConfigError, match=r"not an hicd degrade output.*choose an empty or new"):
        write_degraded_dataset(dataset, out, "multi-x2", overwrite=True, progress=False)
    assert tree_state(out) == before


def test_overwrite_replaces_previous_output_but_never_unrelated_files(dataset, tmp_path) -> None:
    out = write_degraded_dataset(dataset, tmp_path / "out", "multi-x2", progress=False)
    with pytest.raises(ConfigError, match=r"not empty .*give --overwrite"):
        write_degraded_dataset(dataset, out, "resolution-x2", progress=False)
    write_degraded_dataset(dataset, out, "resolution-x2", overwrite=True, progress=False)
    assert json.loads((out / "degradation.json").read_text())["setting"] == "resolution-x2"

    extras = (out / "notes.txt", out / "B" / "other.png", out / "list" / "notes.txt")
    for extra in (*extras, out / "A" / "a.txt", out / "label" / "sub"):
        if extra.suffix:
            extra.write_text("not hicd's")  # a file named after an image is still not hicd's
        else:
            extra.mkdir()
        before = tree_state(out)
        with pytest.raises(
            ConfigError, match=re.escape(f"{extra} was not written by hicd degrade")
        ):
            write_degraded_dataset(dataset, out, "multi-x2", overwrite=True, progress=False)
        assert tree_state(out) == before
        extra.unlink() if extra.suffix else extra.rmdir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["generic", "out"]


def test_input_file_linked_into_out_is_refused(dataset, tmp_path) -> None:
    out = write_degraded_dataset(dataset, tmp_path / "out", "multi-x2", progress=False)
    (dataset / "A" / "a.png").unlink()
    (dataset / "A" / "a.png").symlink_to(out / "A" / "a.png")
    before = tree_state(tmp_path)
    with pytest.raises(ConfigError, match=r"a\.png: is a link into --out"):
        write_degraded_dataset(dataset, out, "resolution-x2", overwrite=True, progress=False)
    assert tree_state(tmp_path) == before


def test_overwrite_refuses_an_output_without_a_file_list(dataset, tmp_path) -> None:
    out = write_degraded_dataset(dataset, tmp_path / "out", "multi-x2", progress=False)
    manifest = json.loads((out / "degradation.json").read_text())
    assert "A/a.png" in manifest["files"] and "list/train.txt" in manifest["files"]
    del manifest["files"]  # as written by hicd 0.1
    (out / "degradation.json").write_text(json.dumps(manifest))
    with pytest.raises(ConfigError, match=r"no valid degradation\.json"):
        write_degraded_dataset(dataset, out, "resolution-x2", overwrite=True, progress=False)


def test_overwrite_through_a_link_replaces_the_target(dataset, tmp_path) -> None:
    real = write_degraded_dataset(dataset, tmp_path / "real", "multi-x2", progress=False)
    link = tmp_path / "link"
    link.symlink_to(real)
    write_degraded_dataset(dataset, link, "resolution-x4", overwrite=True, progress=False)
    assert link.is_symlink()
    assert json.loads((real / "degradation.json").read_text())["setting"] == "resolution-x4"


def namespace(setting: str, **options) -> argparse.Namespace:
    return argparse.Namespace(
        setting=setting, **{key: options.get(key) for key in ("scale", "kind", "severity")}
    )


@pytest.mark.parametrize(
    ("setting", "options", "name"),
    [
        ("resolution", {}, "resolution-x4"),
        ("multi", {"scale": 8}, "multi-x8"),
        ("single", {"kind": "jpeg"}, "single-jpeg-s3"),
        ("single", {"kind": "haze", "severity": 5}, "single-haze-s5"),
        ("resolution-x2", {}, "resolution-x2"),
        ("multi-x4", {}, "multi-x4"),
        ("single-gaussian_noise-s1", {}, "single-gaussian_noise-s1"),
        ("mixed", {}, "mixed"),
        ("mixed-t1p0.25", {}, "mixed-t1p0.25"),
        ("resolution-x4@t1", {}, "resolution-x4@t1"),
    ],
)
def test_setting_families_and_full_names(setting, options, name) -> None:
    assert setting_from_args(namespace(setting, **options)).name == name


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--setting", "resolution", "--kind", "jpeg"], "--kind does not apply to --setting resolution"),
        (["--setting", "multi", "--severity", "2"], "--severity does not apply to --setting multi"),
        (["--setting", "single", "--kind", "jpeg", "--scale", "2"], "--scale does not apply to --setting single"),
        (["--setting", "multi-x4", "--scale", "4"], "--scale does not apply to --setting multi-x4"),
        (["--setting", "single-jpeg-s3", "--severity", "3"], "--severity does not apply to --setting single-jpeg-s3"),
        (["--setting", "single"], "--setting single needs --kind"),
        (["--setting", "clean"], "--setting clean: a clean copy is the dataset itself"),
        (["--setting", "multi-x3"], "--setting: degradation setting 'multi-x3'"),
        (["--setting", "mixed", "--date", "t1"], "--date does not apply to --setting mixed"),
        (["--setting", "mixed", "--scale", "4"], "--scale does not apply to --setting mixed"),
        (["--setting", "mixed@t1"], "takes no date"),
        (["--setting", "resolution-x4@t1", "--date", "t2"], "--date t2 contradicts --setting resolution-x4@t1"),
    ],
)  # fmt: skip
def test_options_that_do_not_apply_are_refused(tmp_path, capsys, options, message) -> None:
    code = degrade("--data", str(tmp_path / "none"), "--out", str(tmp_path / "out"), *options)
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_cli_full_setting_name_writes_that_setting(dataset, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    code = degrade("--data", str(dataset), "--out", str(out), "--setting", "multi-x4")
    assert code == 0, capsys.readouterr().err
    assert json.loads((out / "degradation.json").read_text())["setting"] == "multi-x4"


def test_help_shows_defaults(capsys) -> None:
    with pytest.raises(SystemExit) as done:
        main(["degrade", "--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for option, default in (("--scale", 4), ("--severity", 3), ("--seed", 0), ("--date", "t2")):
        assert f"{option}" in text and f"(default: {default})" in text


def test_cli_dated_name_degrades_that_date(dataset, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    code = degrade("--data", str(dataset), "--out", str(out), "--setting", "multi-x4@t1")
    assert code == 0, capsys.readouterr().err
    manifest = json.loads((out / "degradation.json").read_text())
    assert (manifest["setting"], manifest["date"]) == ("multi-x4@t1", "t1")
    assert (out / "B" / "a.png").read_bytes() == (dataset / "B" / "a.png").read_bytes()
