"""Every subcommand, every bad value: exit 2, no traceback, ``hicd: error:`` as the last stderr
line, the inputs unchanged (hashes) and no file left behind (called in-process via ``main``)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from hicd.cli.main import main

from .test_predict_export import tiny_checkpoint


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, Path]:
    """A checkpoint, a pair of images and a tiny labelled dataset, written once."""
    from tests.conftest import write_png

    root = tmp_path_factory.mktemp("world")
    rng = np.random.default_rng(0)
    for name in ("p1", "p2"):
        for folder in ("A", "B"):
            write_png(root / "data" / folder / f"{name}.png", rng.integers(0, 256, (48, 48, 3)))
        write_png(root / "data" / "label" / f"{name}.png", rng.integers(0, 2, (48, 48)) * 255)
    blocker = root / "afile"
    blocker.write_text("a file, not a folder")
    return {
        "ck": tiny_checkpoint(tmp_path_factory),
        "t1": root / "data" / "A" / "p1.png",
        "t2": root / "data" / "B" / "p1.png",
        "data": root / "data",
        "afile": blocker,
        "out": root / "outputs",
    }


def snapshot(folder: Path) -> dict[Path, str]:
    return {
        path: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def predict(w, *extra):
    return ["predict", "--checkpoint", w["ck"], "--t1", w["t1"], "--t2", w["t2"], "--quiet",
            *extra]  # fmt: skip


def evaluate(w, *extra):
    return ["evaluate", "--checkpoint", w["ck"], "--data", w["data"], "--quiet", *extra]


def degrade(w, *extra):
    return ["degrade", "--data", w["data"], "--quiet", *extra]


BAD = {
    "predict": [
        lambda w: predict(w, "--out", w["out"] / "m.tif", "--tile", "0"),
        lambda w: predict(w, "--out", w["out"] / "m.tif", "--overlap", "-1"),
        lambda w: predict(w, "--out", w["out"] / "m.tif", "--tile", "64", "--overlap", "64"),
        lambda w: predict(w, "--out", w["out"] / "m.tif", "--threshold", "1.5"),
        lambda w: predict(w, "--out", w["out"] / "m.tif", "--batch-size", "0"),
        lambda w: predict(w, "--out", w["out"] / "m.tif", "--value-scale", "-3"),
        lambda w: predict(w, "--out", w["out"] / "m.tif", "--value-scale", "1,2,3"),
        lambda w: predict(w, "--out", w["out"] / "m.tif", "--bands", "1,2,9"),
        lambda w: predict(w, "--out", w["out"] / "m.tif", "--engine", "tensorrt"),
        lambda w: predict(w, "--out", w["out"] / "m.tif", "--device", "tpu"),
        lambda w: predict(w, "--out", w["out"] / "m.png"),
        lambda w: predict(w, "--out", w["afile"] / "m.tif"),
        lambda w: predict(w, "--out", w["t1"].with_suffix(".tif"), "--vector", w["ck"]),
        lambda w: predict(w, "--out", w["out"] / "m.tif", "--quicklook", w["out"] / "q.jpg"),
        lambda w: predict(w, "--out", w["out"] / "m.tif", "--resampling", "magic"),
        lambda w: [
            "predict",
            "--checkpoint",
            w["t1"],
            "--t1",
            w["t1"],
            "--t2",
            w["t2"],
            "--out",
            w["out"] / "m.tif",
        ],
        lambda w: [
            "predict",
            "--checkpoint",
            w["out"] / "missing.ckpt",
            "--t1",
            w["t1"],
            "--t2",
            w["t2"],
            "--out",
            w["out"] / "m.tif",
        ],
    ],
    "evaluate": [
        lambda w: evaluate(w, "--out", w["out"] / "e", "--settings", "nonsense-x9"),
        lambda w: evaluate(w, "--out", w["out"] / "e", "--tile", "-5"),
        lambda w: evaluate(w, "--out", w["out"] / "e", "--split", "nosuchsplit"),
        lambda w: evaluate(w, "--out", w["afile"] / "e"),
        lambda w: evaluate(w, "--out", w["out"] / "e", "--value-scale", "0"),
        lambda w: evaluate(w, "--out", w["out"] / "e", "--layout", "unknown"),
        lambda w: [
            "evaluate",
            "--checkpoint",
            w["ck"],
            "--data",
            w["out"] / "none",
            "--out",
            w["out"] / "e",
        ],
    ],
    "degrade": [
        lambda w: degrade(w, "--out", w["out"] / "d", "--setting", "nonsense"),
        lambda w: degrade(w, "--out", w["data"] / "inside", "--setting", "multi-x4"),
        lambda w: degrade(w, "--out", w["afile"] / "d", "--setting", "multi-x4"),
        lambda w: degrade(w, "--out", w["out"] / "d", "--setting", "multi-x4", "--seed", "x"),
    ],
    "inspect": [
        lambda w: ["inspect", "--t1", w["t1"], "--t2", w["out"] / "missing.png"],
        lambda w: ["inspect", "--t1", w["t1"], "--t2", w["t2"], "--value-scale", "nan"],
        lambda w: ["inspect", "--t1", w["ck"], "--t2", w["t2"]],
    ],
    "export": [
        lambda w: [
            "export",
            "--checkpoint",
            w["ck"],
            "--out",
            w["out"] / "m.onnx",
            "--opset",
            "7",
        ],
        lambda w: [
            "export",
            "--checkpoint",
            w["ck"],
            "--out",
            w["out"] / "m.onnx",
            "--opset",
            "99",
        ],
        lambda w: ["export", "--checkpoint", w["ck"], "--out", w["out"] / "m.txt"],
        lambda w: ["export", "--checkpoint", w["ck"], "--out", w["afile"] / "m.onnx"],
        lambda w: [
            "export",
            "--checkpoint",
            w["ck"],
            "--out",
            w["out"] / "m.onnx",
            "--format",
            "tflite",
        ],
    ],
    "demo": [
        lambda w: ["demo", "--out", w["afile"] / "demo"],
        lambda w: ["demo", "--out", w["out"] / "demo", "--steps", "-1"],
    ],
}
CASES = [(name, index) for name, cases in BAD.items() for index in range(len(cases))]


@pytest.mark.parametrize(("command", "index"), CASES, ids=[f"{c}-{i}" for c, i in CASES])
def test_a_bad_value_is_one_error_line(world, capsys, command, index):
    before = snapshot(world["data"].parent)
    argv = [str(part) for part in BAD[command][index](world)]
    try:
        code = main(argv)
    except SystemExit as exit:  # argparse's own refusals exit after the usage block
        code = exit.code
    err = capsys.readouterr().err
    assert code == 2, (argv, err)
    assert "Traceback" not in err, err
    assert err.strip().splitlines()[-1].startswith("hicd: error:"), err
    assert snapshot(world["data"].parent) == before  # inputs unchanged, nothing left behind
