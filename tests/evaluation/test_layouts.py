"""hicd evaluate and folder-mode hicd predict read every layout (--layout, --split), and the
evaluate commands of the docs run on the layouts they name."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

import pytest
import rasterio

from hicd.cli.main import main
from hicd.evaluation.runner import evaluate_checkpoints

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def sv_cd(shared_data) -> Path:
    path = shared_data / "sv-cd-256"
    if not path.is_dir():
        pytest.skip(f"{path} not found")
    return path


def generic_copy(levir: Path, split: str, root: Path) -> Path:
    """The pairs of one LEVIR-CD split copied into the generic layout."""
    for folder in ("A", "B", "label"):
        shutil.copytree(levir / split / folder, root / folder)
    return root


def test_evaluate_levir_cd_layout_equals_the_generic_copy(
    checkpoints, layout_dataset, tmp_path
) -> None:
    levir = layout_dataset("levir_cd", size=(64, 80))
    options = {"settings": "clean,multi-x2", "examples": 0, "progress": False}
    rows = evaluate_checkpoints(checkpoints[:1], levir, layout="levir_cd", split="test", **options)
    generic = generic_copy(levir, "test", tmp_path / "generic")
    assert rows == evaluate_checkpoints(checkpoints[:1], generic, **options)
    every = evaluate_checkpoints(checkpoints[:1], levir, layout="levir_cd", **options)
    assert every != rows  # no split: the pairs of every split


def test_evaluate_cli_on_sv_cd(checkpoints, sv_cd, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    argv = ["evaluate", "--data", str(sv_cd), "--layout", "sv_cd", "--split", "test"]
    argv += ["--checkpoint", str(checkpoints[0]), "--out", str(out), "--quiet"]
    assert main([*argv, "--settings", "clean", "--examples", "1"]) == 0
    assert "| clean |" in capsys.readouterr().out
    assert "(sv_cd layout, split `test`)" in (out / "results.md").read_text()
    identity = json.loads((out / "progress.json").read_text())
    assert json.dumps(identity).count('"sv_cd"') >= 1
    # a released degraded t2 folder of that layout: the hicd degrade copy's test/B
    degraded = tmp_path / "degraded"
    assert main(["degrade", "--data", str(sv_cd), "--out", str(degraded), "--layout", "sv_cd",
                 "--split", "test", "--setting", "multi-x4", "--quiet"]) == 0  # fmt: skip
    released = evaluate_checkpoints(
        checkpoints[:1], sv_cd, layout="sv_cd", split="test", progress=False, examples=0,
        degraded_t2_dir=degraded / "test" / "B",
    )  # fmt: skip
    on_the_fly = evaluate_checkpoints(
        checkpoints[:1], sv_cd, layout="sv_cd", split="test", progress=False, examples=0,
        settings="multi-x4",
    )  # fmt: skip
    assert released[0]["f1"] == on_the_fly[0]["f1"]


def test_predict_folder_mode_reads_a_layout(checkpoints, layout_dataset, tmp_path, capsys):
    bandon = layout_dataset("bandon")
    out = tmp_path / "maps"
    argv = ["predict", "--checkpoint", str(checkpoints[0]), "--data", str(bandon)]
    argv += ["--layout", "bandon", "--split", "train", "--out", str(out), "--quiet"]
    assert main([*argv, "--engine", "torch", "--no-inspect"]) == 0
    written = sorted(path.name for path in out.glob("*.tif"))
    assert written == ["bj_t1VSt2_L81_0.tif", "sh_t1VSt2_L81_1.tif"]
    with rasterio.open(out / written[0]) as dataset:
        assert (dataset.height, dataset.width) == (32, 48)
    capsys.readouterr()
    assert main([*argv, "--engine", "torch", "--no-inspect", "--resume"]) == 0
    assert "resume: skipped 2 of 2 pairs" in capsys.readouterr().out
    assert main([*argv, "--t1", "a.png"]) == 2
    assert "--data and --t1/--t2 exclude each other" in capsys.readouterr().err
    base = ["predict", "--checkpoint", str(checkpoints[0]), "--out", str(out)]
    assert main([*base, "--t1", "a", "--t2", "b", "--layout", "sv_cd"]) == 2
    assert "--layout and --split apply to --data" in capsys.readouterr().err
    assert main(base) == 2
    assert "give --t1 and --t2" in capsys.readouterr().err


def docs_commands(name: str, command: str) -> list[list[str]]:
    """Every ``hicd COMMAND ...`` of a docs page's code blocks, continuation lines joined."""
    text = (REPO_ROOT / "docs" / name).read_text().replace("\\\n", " ")
    return [shlex.split(line) for line in re.findall(rf"^hicd {command} .*$", text, re.M)]


@pytest.mark.parametrize("page", ["training.md", "experiments.md", "evaluation.md"])
def test_docs_evaluate_commands_on_levir_cd_run(page, checkpoints, layout_dataset, tmp_path):
    levir = layout_dataset("levir_cd", size=(64, 80))
    commands = [c for c in docs_commands(page, "evaluate") if "LEVIR-CD" in " ".join(c)]
    assert commands
    for number, command in enumerate(commands):
        argv, paths = [], iter(checkpoints * 2)
        for index, word in enumerate(command[1:]):
            previous = command[index]
            if "LEVIR-CD" in word:
                word = str(levir)
            elif previous == "--checkpoint":
                word = str(next(paths))
            elif previous == "--out":
                word = str(tmp_path / f"out{number}")
            elif previous == "--settings":
                word = "clean"  # the docs' settings, shortened
            argv.append(word)
        assert main([*argv, "--quiet", "--examples", "0"]) == 0, " ".join(command)
