from __future__ import annotations

import math

import pytest
import torch

from hicd.degradations import SCALES, DegradationSetting, Degrader, expand_settings, tables

BLUR_OPS = {"gaussian_blur", "anisotropic_gaussian_blur"}
MULTI_ORDER = ["blur", "downsample", "gaussian_noise", "jpeg", "upsample"]


def checkerboard(height: int, width: int) -> torch.Tensor:
    y = torch.arange(height).view(-1, 1)
    x = torch.arange(width).view(1, -1)
    return ((x + y) % 2).float().expand(1, 3, height, width).contiguous()


@pytest.mark.parametrize("scale", SCALES)
def test_resolution_erases_period_two_checkerboard(scale: int) -> None:
    board = checkerboard(64, 64)
    out, records = Degrader(DegradationSetting("resolution", scale=scale))(board)
    assert out.shape == board.shape
    assert float(out.std()) < 0.05 < float(board.std())
    assert records[0]["ops"][0] == {
        "op": "downsample",
        "scale": scale,
        "mode": "bicubic",
        "antialias": True,
        "size": [64 // scale, 64 // scale],
    }


@pytest.mark.parametrize("shape", [(3, 3, 45, 37), (1, 2, 5, 3), (1, 3, 1, 1)])
@pytest.mark.parametrize("name", ["resolution-x8", "multi-x8"])
def test_sizes_not_divisible_by_scale_keep_shape(shape: tuple, name: str, textured) -> None:
    images = textured(*shape)
    out, records = Degrader(name)(images)
    assert out.shape == images.shape
    assert out.min() >= 0 and out.max() <= 1
    down = next(op for op in records[0]["ops"] if op["op"] == "downsample")
    assert down["size"] == [max(1, math.ceil(shape[2] / 8)), max(1, math.ceil(shape[3] / 8))]
    assert records[0]["ops"][-1]["size"] == list(shape[2:])


def test_resolution_keeps_smooth_content_aligned() -> None:
    y = torch.linspace(0, 1, 96).view(1, 1, -1, 1)
    x = torch.linspace(0, 1, 96).view(1, 1, 1, -1)
    smooth = (0.5 + 0.3 * torch.sin(3 * x + 2 * y)).expand(1, 3, 96, 96)
    out, _ = Degrader("resolution-x4")(smooth)
    inner = (slice(None), slice(None), slice(8, -8), slice(8, -8))
    assert float((out - smooth)[inner].abs().max()) < 0.01


def test_resolution_loses_more_detail_at_larger_scale(images, high_frequency) -> None:
    detail = [high_frequency(Degrader(f"resolution-x{s}")(images)[0]) for s in SCALES]
    assert high_frequency(images) > detail[0] > detail[1] > detail[2]


def _op_kind(op: dict) -> str:
    return "blur" if op["op"] in BLUR_OPS else op["op"]


def test_multi_records_ops_in_order_within_ranges(textured) -> None:
    images = textured(64, 3, 16, 16)
    generator = torch.Generator().manual_seed(3)
    out, records = Degrader("multi-x4")(images, generator=generator)
    assert out.shape == images.shape
    seen_blurs, seen_modes = set(), set()
    for record in records:
        assert record["setting"] == "multi-x4"
        ops = record["ops"]
        assert [_op_kind(op) for op in ops] == MULTI_ORDER
        blur, down, noise, jpeg, up = ops
        seen_blurs.add(blur["op"])
        assert blur["kernel_size"] in tables.MULTI_KERNEL_SIZES
        sigmas = [blur[k] for k in ("sigma", "sigma_x", "sigma_y") if k in blur]
        assert sigmas and all(0.2 <= s <= 3.0 for s in sigmas)
        if blur["op"] == "anisotropic_gaussian_blur":
            assert 0 <= blur["theta"] < 180
        seen_modes.add(down["mode"])
        assert down["scale"] == 4 and down["size"] == [4, 4] and down["antialias"] is False
        assert 0 <= noise["sigma_255"] <= 15
        assert noise["sigma"] == pytest.approx(noise["sigma_255"] / 255)
        assert isinstance(jpeg["quality"], int) and 30 <= jpeg["quality"] <= 95
        assert up == {"op": "upsample", "mode": "bicubic", "antialias": False, "size": [16, 16]}
    assert seen_blurs == BLUR_OPS
    assert seen_modes == set(tables.MULTI_DOWN_MODES)


def test_multi_degrades(images, high_frequency) -> None:
    out, _ = Degrader("multi-x4", seed=1)(images, ["a", "b"])
    assert high_frequency(out) < high_frequency(images)
    assert float((out - images).abs().mean()) > 0.01


@pytest.mark.parametrize("setting", expand_settings("clean,resolution,single,multi"), ids=str)
def test_multispectral_five_bands(setting: DegradationSetting, textured) -> None:
    images = textured(2, 5, 24, 20)
    out, records = Degrader(setting, seed=0)(images, ["a", "b"])
    assert out.shape == images.shape and out.min() >= 0 and out.max() <= 1
    assert len(records) == 2
    if setting.setting != "clean":
        assert not torch.equal(out, images)


def test_clean_is_identity(images) -> None:
    out, records = Degrader("clean", seed=0)(images, ["a", "b"])
    assert torch.equal(out, images) and out is not images
    assert records == [{"setting": "clean", "ops": []}] * 2


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16])
def test_dtype_preserved(dtype: torch.dtype, images) -> None:
    out, _ = Degrader("multi-x2")(images.to(dtype))
    assert out.dtype == dtype
