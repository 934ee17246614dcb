"""`hicd predict` and `hicd export` end to end through the CLI dispatcher."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from PIL import Image
from rasterio.errors import NotGeoreferencedWarning

from hicd.cli.main import main
from hicd.models import create_model
from hicd.models.checkpoint import CheckpointInfo, load_model, save_model_checkpoint


def tiny_checkpoint(tmp_path_factory) -> Path:
    """A tiny untrained siam_fpn checkpoint (tile 64), seeded."""
    torch.manual_seed(0)
    model = create_model(
        "siam_fpn", backbone="tv_mobilenet_v2", pretrained=None, decoder_channels=16
    )
    path = tmp_path_factory.mktemp("checkpoint") / "tiny.ckpt"
    return save_model_checkpoint(path, model.eval(), CheckpointInfo(model.config, tile_size=64))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return tiny_checkpoint(tmp_path_factory)


def read_map(path: Path) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path) as dataset:
            return dataset.read(1)


def test_predict_a_real_levir_tile(checkpoint, shared_data, tmp_path, capsys):
    tiles = shared_data / "levir-cd-1024"
    out = tmp_path / "change.tif"
    argv = ["predict", "--checkpoint", str(checkpoint), "--out", str(out), "--quiet"]
    argv += ["--t1", str(tiles / "A" / "test_7.png"), "--t2", str(tiles / "B" / "test_7.png")]
    argv += ["--tile", "256", "--vector", str(tmp_path / "change.geojson")]
    assert main(argv) == 0
    assert "1024×1024" in capsys.readouterr().out
    values = read_map(out)
    assert values.shape == (1024, 1024) and set(np.unique(values)) <= {0, 1}
    with Image.open(tmp_path / "change.png") as quicklook:
        assert quicklook.size == (1024, 1024)
    collection = json.loads((tmp_path / "change.geojson").read_text())
    assert sum(f["properties"]["pixels"] for f in collection["features"]) == values.sum()


def test_predict_folders_and_errors(checkpoint, png_writer, tmp_path, capsys):
    rng = np.random.default_rng(0)
    for name in ("one", "two"):
        for date in ("A", "B"):
            png_writer(tmp_path / date / f"{name}.png", rng.integers(0, 256, (48, 40, 3)))
    base = ["predict", "--checkpoint", str(checkpoint), "--quiet"]
    folders = ["--t1", str(tmp_path / "A"), "--t2", str(tmp_path / "B")]
    assert main([*base, *folders, "--out", str(tmp_path / "out"), "--probabilities"]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "one.png", "one.tif", "two.png", "two.tif"
    ]  # fmt: skip
    assert read_map(tmp_path / "out" / "one.tif").dtype == np.float32

    png_writer(tmp_path / "B" / "three.png", np.zeros((48, 40, 3)))
    assert main([*base, *folders, "--out", str(tmp_path / "out2"), "--no-quicklook"]) == 2
    assert "three.png: missing partner file" in capsys.readouterr().err
    one = ["--t1", str(tmp_path / "A" / "one.png"), "--t2", str(tmp_path / "B" / "three.png")]
    assert (
        main([*base, *one, "--out", str(tmp_path / "x.tif"), "--tile", "32", "--overlap", "32"])
        == 2
    )
    assert "--overlap must be in [0, tile=32)" in capsys.readouterr().err
    assert main([*base, *one, "--out", str(tmp_path / "x.tif"), "--bands", "1,2"]) == 2
    assert "has 2 image bands but the model takes 3" in capsys.readouterr().err
    assert not (tmp_path / "out2").exists() and not (tmp_path / "x.tif").exists()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_export_onnx_matches_torch(checkpoint, tmp_path):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    out = tmp_path / "model.onnx"
    argv = ["export", "--checkpoint", str(checkpoint), "--format", "onnx", "--out", str(out)]
    assert main(argv) == 0
    graph = onnx.load(str(out))
    assert [i.name for i in graph.graph.input] == ["t1", "t2"]
    metadata = {p.key: p.value for p in graph.metadata_props}
    assert json.loads(metadata["hicd"])["tile_size"] == 64
    model, _ = load_model(checkpoint)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    for shape in [(1, 3, 64, 64), (2, 3, 75, 101)]:
        t1, t2 = torch.rand(shape), torch.rand(shape)
        with torch.no_grad():
            expected = model(t1, t2).logits.numpy()
        (got,) = session.run(None, {"t1": t1.numpy(), "t2": t2.numpy()})
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, atol=1e-4)
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]  # no temporary file left


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_export_torchscript_matches_torch(checkpoint, tmp_path):
    out = tmp_path / "model.pt"
    argv = ["export", "--checkpoint", str(checkpoint), "--format", "torchscript", "--out", str(out)]
    assert main(argv) == 0
    extra = {"hicd.json": ""}
    scripted = torch.jit.load(str(out), _extra_files=extra)
    assert json.loads(extra["hicd.json"])["model_config"]["in_channels"] == 3
    model, _ = load_model(checkpoint)
    for shape in [(1, 3, 64, 64), (2, 3, 75, 101)]:
        t1, t2 = torch.rand(shape), torch.rand(shape)
        with torch.no_grad():
            torch.testing.assert_close(scripted(t1, t2), model(t1, t2).logits, atol=1e-4, rtol=0)


def test_export_reports_bad_checkpoints(tmp_path, capsys):
    out = tmp_path / "m.onnx"
    assert main(["export", "--checkpoint", str(tmp_path / "no.ckpt"), "--out", str(out)]) == 2
    assert "no.ckpt: checkpoint not found" in capsys.readouterr().err
    assert not out.exists()
