"""create_model: names, options, config round trip, multispectral inputs."""

from __future__ import annotations

import pytest
import torch

from hicd.errors import ConfigError
from hicd.models import DEFAULT_BACKBONE, create_model, list_backbones, list_models
from hicd.models.input_conv import adapted_weight


def test_list_models_and_default() -> None:
    assert list_models() == ["bit", "siam_fpn"]
    model = create_model("siam_fpn")
    assert model.config["backbone"] == DEFAULT_BACKBONE == "tv_mobilenet_v2"
    assert "tv_mobilenet_v2" in list_backbones()
    assert model.encoder_channels == [24, 32, 96, 320]
    assert model.change_channels == [64] * 4
    assert (model.output_stride, model.in_channels) == (32, 3)


def test_unknown_model_lists_valid_names() -> None:
    with pytest.raises(ConfigError, match=r"^model: 'nope' is not one of bit, siam_fpn"):
        create_model("nope")


def test_unknown_backbone() -> None:
    with pytest.raises(ConfigError, match="unknown backbone 'not_a_net'"):
        create_model("siam_fpn", "not_a_net")


def test_backbone_without_needed_strides() -> None:
    with pytest.raises(ConfigError, match=r"strides \[16, 16, 16\]"):
        create_model("siam_fpn", "naflexvit_base_patch16_gap")


def test_fixed_size_backbone_is_refused() -> None:
    with pytest.raises(ConfigError, match="fixed input size"):
        create_model("siam_fpn", "vit_tiny_patch16_224")


def test_unknown_option_lists_valid_options() -> None:
    with pytest.raises(ConfigError, match=r"no option depth.*decoder_channels"):
        create_model("siam_fpn", depth=3)


@pytest.mark.parametrize(
    ("name", "backbone", "options"),
    [
        ("siam_fpn", "tv_mobilenet_v2", {"decoder_channels": 16, "pad_mode": "constant"}),
        ("siam_fpn", "resnet18", {"decoder_channels": 8}),
        ("bit", "tv_mobilenet_v2", {"decoder_channels": 16, "num_tokens": 3, "encoder_levels": 2}),
    ],
)
def test_config_rebuilds_the_same_architecture(name: str, backbone: str, options: dict) -> None:
    model = create_model(name, backbone, in_channels=4, **options).eval()
    rebuilt = create_model(**model.config).eval()
    assert rebuilt.config == model.config
    rebuilt.load_state_dict(model.state_dict(), strict=True)
    t1, t2 = torch.randn(1, 4, 40, 40), torch.randn(1, 4, 40, 40)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(t1, t2).logits, model(t1, t2).logits)


@pytest.mark.parametrize("name", list_models())
@pytest.mark.parametrize("backbone", ["tv_mobilenet_v2", "resnet18"])
def test_multispectral_input(name: str, backbone: str) -> None:
    model = create_model(name, backbone, in_channels=5, decoder_channels=16)
    out = model(torch.randn(2, 5, 65, 47), torch.randn(2, 5, 65, 47))
    assert out.logits.shape == (2, 2, 65, 47)
    out.logits.mean().backward()


@pytest.mark.parametrize("in_channels", [1, 2, 5, 13])
def test_adapted_weight_rule(in_channels: int) -> None:
    rgb = torch.randn(8, 3, 3, 3)
    weight = adapted_weight(rgb, in_channels)
    assert weight.shape == (8, in_channels, 3, 3)
    scale = 3 / in_channels
    copied = 3 if in_channels >= 3 else 0
    torch.testing.assert_close(weight[:, :copied], rgb[:, :copied] * scale)
    mean = rgb.mean(dim=1, keepdim=True) * scale
    torch.testing.assert_close(weight[:, copied:], mean.expand(-1, in_channels - copied, -1, -1))
    # an image whose bands are all equal gives what the RGB filters gave on its grey version
    torch.testing.assert_close(weight.sum(dim=1), rgb.sum(dim=1))


# model.config as the hand-written dicts gave it before create_model captured it: checkpoints
# written then must still rebuild the same model.
_MEAN3, _STD3 = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
_CONFIGS_BEFORE_CAPTURE = [
    (
        ("siam_fpn",),
        {},
        {
            "name": "siam_fpn",
            "backbone": "tv_mobilenet_v2",
            "in_channels": 3,
            "mean": _MEAN3,
            "std": _STD3,
            "decoder_channels": 64,
            "pad_mode": "reflect",
            "strict_size": False,
        },
    ),
    (
        ("bit",),
        {},
        {
            "name": "bit",
            "backbone": "tv_mobilenet_v2",
            "in_channels": 3,
            "mean": _MEAN3,
            "std": _STD3,
            "decoder_channels": 32,
            "encoder_levels": 3,
            "num_tokens": 4,
            "num_heads": 4,
            "encoder_depth": 1,
            "decoder_depth": 1,
            "mlp_ratio": 2,
            "pad_mode": "reflect",
            "strict_size": False,
        },
    ),
    (
        ("siam_fpn", "resnet18"),
        {
            "in_channels": 4,
            "decoder_channels": 16,
            "pad_mode": "constant",
            "strict_size": True,
            "mean": [0.1, 0.2, 0.3, 0.4],
            "std": [1, 2, 3, 4],
        },
        {
            "name": "siam_fpn",
            "backbone": "resnet18",
            "in_channels": 4,
            "mean": [0.1, 0.2, 0.3, 0.4],
            "std": [1.0, 2.0, 3.0, 4.0],
            "decoder_channels": 16,
            "pad_mode": "constant",
            "strict_size": True,
        },
    ),
    (
        ("bit",),
        {
            "in_channels": 2,
            "decoder_channels": 16,
            "num_tokens": 3,
            "encoder_levels": 2,
            "num_heads": 2,
            "mlp_ratio": 3,
            "encoder_depth": 2,
            "decoder_depth": 2,
        },
        {
            "name": "bit",
            "backbone": "tv_mobilenet_v2",
            "in_channels": 2,
            "mean": [0.485, 0.456],
            "std": [0.229, 0.224],
            "decoder_channels": 16,
            "encoder_levels": 2,
            "num_tokens": 3,
            "num_heads": 2,
            "encoder_depth": 2,
            "decoder_depth": 2,
            "mlp_ratio": 3,
            "pad_mode": "reflect",
            "strict_size": False,
        },
    ),
]


@pytest.mark.parametrize(("args", "options", "before"), _CONFIGS_BEFORE_CAPTURE)
def test_captured_config_equals_the_former_hand_written_one(args, options, before) -> None:
    model = create_model(*args, **options)
    assert model.config == before
    assert create_model(**before).config == before
