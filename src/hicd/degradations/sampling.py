"""Sampling of one image's operations (parameters and random fields) for a setting.

All draws use a CPU ``torch.Generator`` (or torch's default CPU RNG when None), so the
parameters and noise of an image never depend on the device the image lives on.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import torch

from hicd.degradations import ops, tables
from hicd.degradations.draws import Draw
from hicd.degradations.kinds import KINDS, Shape
from hicd.degradations.ops import Op
from hicd.degradations.settings import DegradationSetting


def reduced_size(height: int, width: int, scale: int) -> list[int]:
    """Downsampled size: ceil(H / scale) × ceil(W / scale), at least 1 × 1."""
    return [max(1, math.ceil(height / scale)), max(1, math.ceil(width / scale))]


# ---- settings: (setting, draw, C×H×W) -> ops


def _clean(setting: DegradationSetting, draw: Draw, shape: Shape) -> list[Op]:
    return []


def _resolution(setting: DegradationSetting, draw: Draw, shape: Shape) -> list[Op]:
    _, height, width = shape
    small = reduced_size(height, width, setting.scale)
    return [ops.downsample(setting.scale, "bicubic", True, small), ops.upsample(height, width)]


def _single(setting: DegradationSetting, draw: Draw, shape: Shape) -> list[Op]:
    kind = KINDS[setting.kind]
    return [kind.sample(kind.severities[setting.severity], draw, shape)]


def _multi_blur(draw: Draw) -> Op:
    size = draw.choice(tables.MULTI_KERNEL_SIZES)
    isotropic = draw.uniform(0.0, 1.0) < tables.MULTI_ISOTROPIC_PROBABILITY
    if isotropic:
        return ops.gaussian_blur(draw.uniform(*tables.MULTI_SIGMA_RANGE), size)
    sigma_x = draw.uniform(*tables.MULTI_SIGMA_RANGE)
    sigma_y = draw.uniform(*tables.MULTI_SIGMA_RANGE)
    theta = draw.uniform(*tables.MULTI_THETA_RANGE)
    return ops.anisotropic_gaussian_blur(sigma_x, sigma_y, theta, size)


def _multi(setting: DegradationSetting, draw: Draw, shape: Shape) -> list[Op]:
    channels, height, width = shape
    blur = _multi_blur(draw)
    small = reduced_size(height, width, setting.scale)
    down = ops.downsample(setting.scale, draw.choice(tables.MULTI_DOWN_MODES), False, small)
    sigma = draw.uniform(*tables.MULTI_NOISE_SIGMA_255) / 255
    noise = ops.gaussian_noise(sigma, draw.normal((channels, *small)))
    jpeg = ops.jpeg(draw.integer(*tables.MULTI_JPEG_QUALITY))
    return [blur, down, noise, jpeg, ops.upsample(height, width)]


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
