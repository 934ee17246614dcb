"""ONNX export with named inputs t1, t2 and dynamic batch/height/width, checked in onnxruntime."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from hicd.models import create_model, export_onnx, list_models

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("name", list_models())
def test_onnx_export_matches_eager(name: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = create_model(name, decoder_channels=16).eval()
    path = export_onnx(model, tmp_path / f"{name}.onnx")

    graph = onnx.load(str(path)).graph
    assert [i.name for i in graph.input] == ["t1", "t2"]
    assert [o.name for o in graph.output] == ["logits"]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for shape in [(2, 3, 65, 47), (1, 3, 64, 96)]:
        t1, t2 = torch.randn(shape), torch.randn(shape)
        with torch.no_grad():
            expected = model(t1, t2).logits.numpy()
        (got,) = session.run(None, {"t1": t1.numpy(), "t2": t2.numpy()})
        assert got.shape == expected.shape
        assert abs(got - expected).max() < 1e-4
