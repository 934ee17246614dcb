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


PREDICT = "predict --checkpoint {ck} --t1 {t1} --t2 {t2} --quiet --out "
EVALUATE = "evaluate --checkpoint {ck} --data {data} --quiet --out "
DEGRADE = "degrade --data {data} --quiet --setting multi-x4 --out "
EXPORT = "export --checkpoint {ck} --out "

BAD = {
    "predict": [
        PREDICT + "{out}/m.tif --tile 0",
        PREDICT + "{out}/m.tif --overlap -1",
        PREDICT + "{out}/m.tif --tile 64 --overlap 64",
        PREDICT + "{out}/m.tif --threshold 1.5",
        PREDICT + "{out}/m.tif --batch-size 0",
        PREDICT + "{out}/m.tif --value-scale -3",
        PREDICT + "{out}/m.tif --value-scale 1,2,3",
        PREDICT + "{out}/m.tif --bands 1,2,9",
        PREDICT + "{out}/m.tif --engine tensorrt",
        PREDICT + "{out}/m.tif --device tpu",
        PREDICT + "{out}/m.png",
        PREDICT + "{afile}/m.tif",
        PREDICT + "{out}/m.tif --vector {ck}",
        PREDICT + "{out}/m.tif --quicklook {out}/q.jpg",
        PREDICT + "{out}/m.tif --resampling magic",
        "predict --checkpoint {t1} --t1 {t1} --t2 {t2} --out {out}/m.tif",
        "predict --checkpoint {out}/missing.ckpt --t1 {t1} --t2 {t2} --out {out}/m.tif",
    ],
    "evaluate": [
        EVALUATE + "{out}/e --settings nonsense-x9",
        EVALUATE + "{out}/e --tile -5",
        EVALUATE + "{out}/e --split nosuchsplit",
        EVALUATE + "{afile}/e",
        EVALUATE + "{out}/e --value-scale 0",
        EVALUATE + "{out}/e --layout unknown",
        "evaluate --checkpoint {ck} --data {out}/none --out {out}/e",
    ],
    "degrade": [
        DEGRADE + "{out}/d --setting nonsense",
        DEGRADE + "{data}/inside",
        DEGRADE + "{afile}/d",
        DEGRADE + "{out}/d --seed x",
    ],
    "inspect": [
        "inspect --t1 {t1} --t2 {out}/missing.png",
        "inspect --t1 {t1} --t2 {t2} --value-scale nan",
        "inspect --t1 {ck} --t2 {t2}",
    ],
    "export": [
        EXPORT + "{out}/m.onnx --opset 7",
        EXPORT + "{out}/m.onnx --opset 99",
        EXPORT + "{out}/m.txt",
        EXPORT + "{afile}/m.onnx",
        EXPORT + "{out}/m.onnx --format tflite",
    ],
    "demo": [
        "demo --out {afile}/demo",
        "demo --out {out}/demo --steps -1",
    ],
}
"""Command lines (``{name}`` is a path of ``world``; no path holds a space)."""
CASES = [(name, index) for name, cases in BAD.items() for index in range(len(cases))]


@pytest.mark.parametrize(("command", "index"), CASES, ids=[f"{c}-{i}" for c, i in CASES])
def test_a_bad_value_is_one_error_line(world, capsys, command, index):
    before = snapshot(world["data"].parent)
    argv = BAD[command][index].format(**world).split()
    try:
        code = main(argv)
    except SystemExit as exit:  # argparse's own refusals exit after the usage block
        code = exit.code
    err = capsys.readouterr().err
    assert code == 2, (argv, err)
    assert "Traceback" not in err, err
    assert err.strip().splitlines()[-1].startswith("hicd: error:"), err
    assert snapshot(world["data"].parent) == before  # inputs unchanged, nothing left behind
