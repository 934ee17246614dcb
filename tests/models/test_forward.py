"""Every registered model × backbone: shapes, gradients, weight sharing, any input size."""

from __future__ import annotations

import math

import pytest
import torch

from hicd.errors import ConfigError, DataError
from hicd.models import ChangeDetectionModel, ChangeOutput, create_model, list_models

BACKBONES = ["tv_mobilenet_v2", "resnet18"]
# levels of the encoder and of the change features, per model
LEVELS = {"siam_fpn": ([4, 8, 16, 32], [4, 8, 16, 32]), "bit": ([4, 8, 16], [4])}


def _model(name: str, backbone: str, **kwargs) -> ChangeDetectionModel:
    torch.manual_seed(0)
    return create_model(name, backbone, decoder_channels=16, **kwargs)


def test_every_registered_model_is_covered() -> None:
    assert sorted(LEVELS) == list_models()


@pytest.mark.parametrize("backbone", BACKBONES)
@pytest.mark.parametrize("name", list_models())
def test_forward_backward_at_odd_size(name: str, backbone: str) -> None:
    model = _model(name, backbone)
    t1, t2 = torch.randn(2, 3, 65, 47), torch.randn(2, 3, 65, 47)
    out = model(t1, t2)

    assert isinstance(out, ChangeOutput)
    assert out.logits.shape == (2, 2, 65, 47)
    encoder_strides, change_strides = LEVELS[name]
    assert model.output_stride == encoder_strides[-1]
    padded = [math.ceil(s / model.output_stride) * model.output_stride for s in (65, 47)]
    for features in (out.features_t1, out.features_t2):
        assert [f.shape[1] for f in features] == model.encoder_channels
        assert [tuple(f.shape[2:]) for f in features] == [
            (padded[0] // s, padded[1] // s) for s in encoder_strides
        ]
    assert [f.shape[1] for f in out.change_features] == model.change_channels
    assert [tuple(f.shape[2:]) for f in out.change_features] == [
        (padded[0] // s, padded[1] // s) for s in change_strides
    ]

    loss = out.logits.mean() + sum(f.mean() for f in out.change_features)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in model.encoder.parameters() for g in [g.grad])


@pytest.mark.parametrize("backbone", BACKBONES)
@pytest.mark.parametrize("name", list_models())
def test_encoder_weights_are_shared_between_dates(name: str, backbone: str) -> None:
    model = _model(name, backbone).eval()
    t1, t2 = torch.randn(1, 3, 64, 64), torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        out, swapped = model(t1, t2), model(t2, t1)
    for a, b in zip(out.features_t1, swapped.features_t2, strict=True):
        torch.testing.assert_close(a, b)
    for a, b in zip(out.features_t2, swapped.features_t1, strict=True):
        torch.testing.assert_close(a, b)
    encoders = [m for m in model.modules() if m is model.encoder]
    assert len(encoders) == 1


@pytest.mark.parametrize("name", list_models())
@pytest.mark.parametrize("size", [(250, 190), (5, 7), (64, 64)])
def test_any_size_is_padded_and_cropped(name: str, size: tuple[int, int]) -> None:
    model = _model(name, "tv_mobilenet_v2").eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, *size), torch.randn(1, 3, *size))
    assert out.logits.shape == (1, 2, *size)


@pytest.mark.parametrize("pad_mode", ["constant", "replicate"])
def test_other_pad_modes(pad_mode: str) -> None:
    model = _model("siam_fpn", "tv_mobilenet_v2", pad_mode=pad_mode).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 33, 40), torch.randn(1, 3, 33, 40))
    assert out.logits.shape == (1, 2, 33, 40)
    assert model.config["pad_mode"] == pad_mode


def test_strict_size_refuses_sizes_off_the_stride() -> None:
    model = _model("siam_fpn", "tv_mobilenet_v2", strict_size=True)
    with pytest.raises(DataError, match=r"65×47.*|stride 32"):
        model(torch.randn(1, 3, 65, 47), torch.randn(1, 3, 65, 47))
    assert model(torch.randn(1, 3, 64, 32), torch.randn(1, 3, 64, 32)).logits.shape[-2:] == (64, 32)


def test_strict_size_message_names_size_and_stride() -> None:
    model = _model("bit", "tv_mobilenet_v2", strict_size=True)
    with pytest.raises(DataError) as error:
        model(torch.randn(1, 3, 65, 47), torch.randn(1, 3, 65, 47))
    assert "65×47" in str(error.value) and "stride 16" in str(error.value)


def test_bad_inputs_are_refused() -> None:
    model = _model("siam_fpn", "tv_mobilenet_v2")
    with pytest.raises(DataError, match="same"):
        model(torch.randn(1, 3, 32, 32), torch.randn(1, 3, 32, 64))
    with pytest.raises(DataError, match="in_channels=3"):
        model(torch.randn(1, 4, 32, 32), torch.randn(1, 4, 32, 32))


def test_bad_pad_mode_is_refused() -> None:
    with pytest.raises(ConfigError, match="pad_mode"):
        _model("siam_fpn", "tv_mobilenet_v2", pad_mode="circular")
