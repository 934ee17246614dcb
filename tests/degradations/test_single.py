from __future__ import annotations

import itertools

import pytest
import torch

from hicd.degradations import (
    KINDS,
    SEVERITIES,
    SEVERITY_TABLE,
    SINGLE_KINDS,
    DegradationSetting,
    Degrader,
)
from hicd.degradations.draws import Draw


def degrade(kind: str, severity: int, images: torch.Tensor) -> torch.Tensor:
    setting = DegradationSetting("single", kind=kind, severity=severity)
    names = [f"img{i}" for i in range(images.shape[0])]
    out, records = Degrader(setting, seed=7)(images, names)
    assert [r["setting"] for r in records] == [setting.name] * images.shape[0]
    assert [op["op"] for op in records[0]["ops"]] == [kind]
    return out


@pytest.mark.parametrize("kind", SINGLE_KINDS)
@pytest.mark.parametrize("severity", [1, 5])
@pytest.mark.parametrize("shape", [(2, 3, 64, 64), (3, 3, 45, 37), (1, 5, 20, 33)])
def test_shape_dtype_range_preserved(kind: str, severity: int, shape: tuple, textured) -> None:
    images = textured(*shape)
    out = degrade(kind, severity, images)
    assert out.shape == images.shape and out.dtype == images.dtype
    assert out.min() >= 0 and out.max() <= 1
    assert not torch.equal(out, images)


def _series(kind: str, images: torch.Tensor, measure) -> list[float]:
    return [measure(degrade(kind, s, images), images) for s in SEVERITIES]


def _strictly(values: list[float], increasing: bool) -> bool:
    pairs = itertools.pairwise(values)
    return all((b > a) if increasing else (b < a) for a, b in pairs)


@pytest.mark.parametrize("kind", ["gaussian_blur", "motion_blur"])
def test_blur_removes_more_detail_with_severity(
    kind: str, images: torch.Tensor, high_frequency
) -> None:
    detail = _series(kind, images, lambda out, _: high_frequency(out))
    assert detail[0] < high_frequency(images)
    assert _strictly(detail, increasing=False), detail


def test_noise_std_grows_with_severity() -> None:
    grey = torch.full((2, 3, 64, 64), 0.5)
    stds = _series("gaussian_noise", grey, lambda out, ref: float((out - ref).std()))
    assert _strictly(stds, increasing=True), stds
    assert stds[0] == pytest.approx(0.08, rel=0.05)


def test_jpeg_error_grows_with_severity(images: torch.Tensor) -> None:
    errors = _series("jpeg", images, lambda out, ref: float((out - ref).pow(2).mean()))
    assert _strictly(errors, increasing=True), errors


def test_haze_lowers_contrast_with_severity(images: torch.Tensor) -> None:
    contrast = _series("haze", images, lambda out, _: float(out.std(dim=(-2, -1)).mean()))
    assert _strictly(contrast, increasing=False), contrast
    brightness = _series("haze", images, lambda out, _: float(out.mean()))
    assert brightness[0] > float(images.mean())  # airlight >= 0.8 lifts a mid-grey scene


def test_low_light_darkens_with_severity(images: torch.Tensor) -> None:
    brightness = _series("low_light", images, lambda out, _: float(out.mean()))
    assert brightness[0] < float(images.mean())
    assert _strictly(brightness, increasing=False), brightness


def test_records_hold_table_parameters(textured) -> None:
    images = textured(1, 3, 32, 32)
    setting = DegradationSetting("single", kind="gaussian_blur", severity=5)
    _, records = Degrader(setting, seed=0)(images, ["a"])
    assert records[0]["ops"] == [{"op": "gaussian_blur", "sigma": 6.0, "kernel_size": 37}]
    _, records = Degrader("single-jpeg-s2", seed=0)(images, ["a"])
    assert records[0]["ops"] == [{"op": "jpeg", "quality": 18}]
    _, records = Degrader("single-haze-s1", seed=0)(images, ["a"])
    haze = records[0]["ops"][0]
    assert haze["beta"] == 0.25 and 0.8 <= haze["airlight"] <= 1.0
    assert all(0.7 <= d <= 1.0 for row in haze["depth_grid"] for d in row)


def test_kinds_registry_is_the_one_source() -> None:
    assert tuple(KINDS) == SINGLE_KINDS
    assert {name: kind.severities for name, kind in KINDS.items()} == SEVERITY_TABLE
    for name, kind in KINDS.items():
        assert kind.name == name
        assert tuple(kind.severities) == SEVERITIES
        assert len({tuple(params) for params in kind.severities.values()}) == 1
        op = kind.sample(kind.severities[1], Draw(torch.Generator().manual_seed(0)), (3, 8, 8))
        assert op.name == name and callable(op.apply)
