"""Sampling of one image's operations (parameters and random fields) for a setting.

All draws use a CPU ``torch.Generator`` (or torch's default CPU RNG when None), so the
parameters and noise of an image never depend on the device the image lives on.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

import torch

from hicd.degradations import tables
from hicd.degradations.ops import Op
from hicd.degradations.settings import DegradationSetting

Shape = tuple[int, int, int]  # C, H, W
T = TypeVar("T")


def sample_generator(seed: int, name: str, setting_name: str) -> torch.Generator:
    """CPU generator seeded from SHA-256 of the JSON array ``[seed, name, setting_name]``."""
    payload = json.dumps([seed, name, setting_name]).encode("utf-8")
    value = int.from_bytes(hashlib.sha256(payload).digest()[:8], "big") & (2**63 - 1)
    return torch.Generator(device="cpu").manual_seed(value)


class Draw:
    """Parameter draws from one generator, in float64 so recorded values are exact."""

    def __init__(self, generator: torch.Generator | None) -> None:
        self.generator = generator

    def uniform(self, low: float, high: float) -> float:
        u = torch.rand((), dtype=torch.float64, generator=self.generator).item()
        return low + (high - low) * u

    def integer(self, low: int, high: int) -> int:
        """Uniform integer in [low, high], both inclusive."""
        return int(torch.randint(low, high + 1, (), generator=self.generator).item())

    def choice(self, options: Sequence[T]) -> T:
        return options[self.integer(0, len(options) - 1)]

    def normal(self, shape: Sequence[int]) -> torch.Tensor:
        return torch.randn(tuple(shape), dtype=torch.float32, generator=self.generator)

    def field(self, shape: Sequence[int]) -> torch.Tensor:
        return torch.rand(tuple(shape), dtype=torch.float64, generator=self.generator)


def reduced_size(height: int, width: int, scale: int) -> list[int]:
    """Downsampled size: ceil(H / scale) × ceil(W / scale), at least 1 × 1."""
    return [max(1, math.ceil(height / scale)), max(1, math.ceil(width / scale))]


def _noise(sigma: float, draw: Draw, shape: Sequence[int]) -> Op:
    record = {"op": "gaussian_noise", "sigma": sigma, "sigma_255": sigma * 255}
    return Op(record, draw.normal(shape))


def _upsample(height: int, width: int) -> Op:
    return Op({"op": "upsample", "mode": "bicubic", "antialias": False, "size": [height, width]})


# ---- single kinds: (parameters of the severity, draw, C×H×W) -> ops


def _single_gaussian_blur(params: Mapping, draw: Draw, shape: Shape) -> list[Op]:
    sigma = params["sigma"]
    size = 2 * math.ceil(tables.GAUSSIAN_TRUNCATE * sigma) + 1
    return [Op({"op": "gaussian_blur", "sigma": sigma, "kernel_size": size})]


def _single_motion_blur(params: Mapping, draw: Draw, shape: Shape) -> list[Op]:
    length = params["length"]
    angle = draw.uniform(*tables.MOTION_ANGLE_RANGE)
    return [Op({"op": "motion_blur", "length": length, "angle": angle, "kernel_size": length})]


def _single_gaussian_noise(params: Mapping, draw: Draw, shape: Shape) -> list[Op]:
    return [_noise(params["sigma"], draw, shape)]


def _single_jpeg(params: Mapping, draw: Draw, shape: Shape) -> list[Op]:
    return [Op({"op": "jpeg", "quality": params["quality"]})]


def _single_haze(params: Mapping, draw: Draw, shape: Shape) -> list[Op]:
    airlight = draw.uniform(*tables.HAZE_AIRLIGHT_RANGE)
    low, high = tables.HAZE_DEPTH_RANGE
    grid = low + (high - low) * draw.field((1, tables.HAZE_DEPTH_GRID, tables.HAZE_DEPTH_GRID))
    record = {
        "op": "haze",
        "beta": params["beta"],
        "airlight": airlight,
        "depth_grid": grid[0].tolist(),
    }
    return [Op(record, grid.to(torch.float32))]


def _single_low_light(params: Mapping, draw: Draw, shape: Shape) -> list[Op]:
    return [Op({"op": "low_light", "gamma": params["gamma"], "gain": params["gain"]})]


SINGLE_SAMPLERS: Mapping[str, Callable[[Mapping, Draw, Shape], list[Op]]] = {
    "gaussian_blur": _single_gaussian_blur,
    "motion_blur": _single_motion_blur,
    "gaussian_noise": _single_gaussian_noise,
    "jpeg": _single_jpeg,
    "haze": _single_haze,
    "low_light": _single_low_light,
}


# ---- settings: (setting, draw, C×H×W) -> ops


def _clean(setting: DegradationSetting, draw: Draw, shape: Shape) -> list[Op]:
    return []


def _resolution(setting: DegradationSetting, draw: Draw, shape: Shape) -> list[Op]:
    _, height, width = shape
    down = {
        "op": "downsample",
        "scale": setting.scale,
        "mode": "bicubic",
        "antialias": True,
        "size": reduced_size(height, width, setting.scale),
    }
    return [Op(down), _upsample(height, width)]


def _single(setting: DegradationSetting, draw: Draw, shape: Shape) -> list[Op]:
    params = tables.SEVERITY_TABLE[setting.kind][setting.severity]
    return SINGLE_SAMPLERS[setting.kind](params, draw, shape)


def _multi_blur(draw: Draw) -> Op:
    size = draw.choice(tables.MULTI_KERNEL_SIZES)
    isotropic = draw.uniform(0.0, 1.0) < tables.MULTI_ISOTROPIC_PROBABILITY
    if isotropic:
        sigma = draw.uniform(*tables.MULTI_SIGMA_RANGE)
        return Op({"op": "gaussian_blur", "sigma": sigma, "kernel_size": size})
    record = {
        "op": "anisotropic_gaussian_blur",
        "sigma_x": draw.uniform(*tables.MULTI_SIGMA_RANGE),
        "sigma_y": draw.uniform(*tables.MULTI_SIGMA_RANGE),
        "theta": draw.uniform(*tables.MULTI_THETA_RANGE),
        "kernel_size": size,
    }
    return Op(record)


def _multi(setting: DegradationSetting, draw: Draw, shape: Shape) -> list[Op]:
    channels, height, width = shape
    blur = _multi_blur(draw)
    small = reduced_size(height, width, setting.scale)
    down = {
        "op": "downsample",
        "scale": setting.scale,
        "mode": draw.choice(tables.MULTI_DOWN_MODES),
        "antialias": False,
        "size": small,
    }
    noise = _noise(draw.uniform(*tables.MULTI_NOISE_SIGMA_255) / 255, draw, (channels, *small))
    jpeg = {"op": "jpeg", "quality": draw.integer(*tables.MULTI_JPEG_QUALITY)}
    return [blur, Op(down), noise, Op(jpeg), _upsample(height, width)]


SAMPLERS: Mapping[str, Callable[[DegradationSetting, Draw, Shape], list[Op]]] = {
    "clean": _clean,
    "resolution": _resolution,
    "single": _single,
    "multi": _multi,
}


def sample_ops(
    setting: DegradationSetting, generator: torch.Generator | None, shape: Shape
) -> list[Op]:
    """The ops of one C×H×W image under ``setting``, drawn from ``generator``."""
    return SAMPLERS[setting.setting](setting, Draw(generator), shape)
