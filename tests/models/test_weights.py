"""Loading backbone weights files strictly, and refusing bad ones with clear errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import timm
import torch

from hicd.errors import DataError
from hicd.models import create_model


def test_mobilenet_file_loads_strictly(mobilenet_weights: Path) -> None:
    model = create_model("siam_fpn", "tv_mobilenet_v2", pretrained=mobilenet_weights)
    expected = torch.load(mobilenet_weights, map_location="cpu", weights_only=True)
    encoder = model.encoder.state_dict()
    assert len(encoder) > 0
    for key, value in encoder.items():
        assert torch.equal(value, expected[key]), key
    # bit uses the first two stages of the same file
    bit = create_model("bit", pretrained=mobilenet_weights)
    for key, value in bit.encoder.state_dict().items():
        assert torch.equal(value, expected[key]), key


def test_mobilenet_file_with_multispectral_input(mobilenet_weights: Path) -> None:
    model = create_model("siam_fpn", pretrained=mobilenet_weights, in_channels=5)
    expected = torch.load(mobilenet_weights, map_location="cpu", weights_only=True)
    rgb = expected["features.0.0.weight"]
    weight = model.encoder.features[0][0].weight
    assert weight.shape == (32, 5, 3, 3)
    torch.testing.assert_close(weight[:, :3], rgb * 3 / 5)
    mean = rgb.mean(dim=1, keepdim=True) * 3 / 5
    torch.testing.assert_close(weight[:, 3:], mean.expand(-1, 2, -1, -1))
    later = model.encoder.features[1].conv[0][0].weight
    assert torch.equal(later, expected["features.1.conv.0.0.weight"])
    out = model(torch.randn(1, 5, 40, 40), torch.randn(1, 5, 40, 40))
    assert out.logits.shape == (1, 2, 40, 40)


def test_garbage_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "broken.pth"
    path.write_bytes(b"this is not a checkpoint")
    with pytest.raises(DataError, match=r"cannot read .*broken\.pth"):
        create_model("siam_fpn", pretrained=path)


def test_truncated_file_is_refused(tmp_path: Path, mobilenet_weights: Path) -> None:
    path = tmp_path / "truncated.pth"
    path.write_bytes(mobilenet_weights.read_bytes()[:100_000])
    with pytest.raises(DataError, match=r"truncated\.pth"):
        create_model("siam_fpn", pretrained=path)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nowhere\.pth does not exist"):
        create_model("siam_fpn", pretrained=tmp_path / "nowhere.pth")


def test_missing_relative_file_names_the_current_folder(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    expected = f"weights/nowhere.pth does not exist (relative paths are taken from the current folder, {tmp_path})"
    with pytest.raises(DataError, match=re.escape(expected) + "$"):
        create_model("siam_fpn", pretrained="weights/nowhere.pth")


def test_weights_file_needing_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.pth"
    torch.save({"conv.weight": torch.zeros(1), "path": tmp_path}, path)  # a pickled Path
    with pytest.raises(DataError, match="not a PyTorch state dict loadable with weights_only"):
        create_model("siam_fpn", pretrained=path)


def test_incompatible_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "resnet18.pth"
    torch.save(timm.create_model("resnet18").state_dict(), path)
    with pytest.raises(DataError, match=r"resnet18\.pth does not fit .*mobilenet_v2.*missing keys"):
        create_model("siam_fpn", "tv_mobilenet_v2", pretrained=path)


def test_torchvision_file_does_not_fit_timm_mobilenet(mobilenet_weights: Path) -> None:
    # the reason the default backbone is tv_mobilenet_v2 rather than timm's mobilenetv2_100
    with pytest.raises(DataError, match="does not fit timm model 'mobilenetv2_100'"):
        create_model("siam_fpn", "mobilenetv2_100", pretrained=mobilenet_weights)


def test_timm_file_loads_strictly(tmp_path: Path) -> None:
    torch.manual_seed(1)
    source = timm.create_model("resnet18")
    path = tmp_path / "resnet18.pth"
    torch.save({"state_dict": source.state_dict()}, path)
    model = create_model("siam_fpn", "resnet18", pretrained=path, decoder_channels=8)
    expected = source.state_dict()
    body = model.encoder.body.state_dict()
    assert "layer4.1.conv2.weight" in body
    for key, value in body.items():
        assert torch.equal(value, expected[key]), key


def test_shape_mismatch_names_the_file(tmp_path: Path, mobilenet_weights: Path) -> None:
    weights = torch.load(mobilenet_weights, map_location="cpu", weights_only=True)
    weights["features.0.0.weight"] = torch.zeros(32, 4, 3, 3)
    path = tmp_path / "reshaped.pth"
    torch.save(weights, path)
    with pytest.raises(DataError, match=r"reshaped\.pth does not fit"):
        create_model("siam_fpn", pretrained=path)
