"""Sampling of one image's operations (parameters and random fields) for a setting.

All draws use a CPU ``torch.Generator`` (or torch's default CPU RNG when None), so the
parameters and noise of an image never depend on the device the image lives on.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch

from hicd.degradations import ops, tables
from hicd.degradations.draws import Draw
from hicd.degradations.kinds import KINDS, SINGLE_KINDS, Shape
from hicd.degradations.ops import Op
from hicd.degradations.settings import SEVERITIES, DegradationSetting


def reduced_size(height: int, width: int, scale: float) -> list[int]:
    """Downsampled size: ceil(H / scale) × ceil(W / scale), at least 1 × 1."""
    return [max(1, math.ceil(height / scale)), max(1, math.ceil(width / scale))]


# ---- families: (their parameters, draw, C×H×W) -> ops; a scale may be any float >= 1


def _resolution_ops(scale: float, shape: Shape) -> list[Op]:
    _, height, width = shape
    small = reduced_size(height, width, scale)
    return [ops.downsample(scale, "bicubic", True, small), ops.upsample(height, width)]


def _single_ops(kind_name: str, severity: int, draw: Draw, shape: Shape) -> list[Op]:
    kind = KINDS[kind_name]
    return [kind.sample(kind.severities[severity], draw, shape)]


def _multi_blur(draw: Draw) -> Op:
    size = draw.choice(tables.MULTI_KERNEL_SIZES)
    isotropic = draw.uniform(0.0, 1.0) < tables.MULTI_ISOTROPIC_PROBABILITY
    if isotropic:
        return ops.gaussian_blur(draw.uniform(*tables.MULTI_SIGMA_RANGE), size)
    sigma_x = draw.uniform(*tables.MULTI_SIGMA_RANGE)
    sigma_y = draw.uniform(*tables.MULTI_SIGMA_RANGE)
    theta = draw.uniform(*tables.MULTI_THETA_RANGE)
    return ops.anisotropic_gaussian_blur(sigma_x, sigma_y, theta, size)


def _multi_ops(scale: float, draw: Draw, shape: Shape) -> list[Op]:
    channels, height, width = shape
    blur = _multi_blur(draw)
    small = reduced_size(height, width, scale)
    down = ops.downsample(scale, draw.choice(tables.MULTI_DOWN_MODES), False, small)
    sigma = draw.uniform(*tables.MULTI_NOISE_SIGMA_255) / 255
    noise = ops.gaussian_noise(sigma, draw.normal((channels, *small)))
    jpeg = ops.jpeg(draw.integer(*tables.MULTI_JPEG_QUALITY))
    return [blur, down, noise, jpeg, ops.upsample(height, width)]


# ---- settings: (setting, draw, C×H×W) -> ops


SAMPLERS: Mapping[str, Callable[[DegradationSetting, Draw, Shape], list[Op]]] = {
    "clean": lambda setting, draw, shape: [],
    "resolution": lambda setting, draw, shape: _resolution_ops(setting.scale, shape),
    "single": lambda setting, draw, shape: _single_ops(setting.kind, setting.severity, draw, shape),
    "multi": lambda setting, draw, shape: _multi_ops(setting.scale, draw, shape),
}


@dataclass
class Plan:
    """What one image pair gets: the date degraded, the ops, and (``mixed``) what was drawn."""

    date: str
    ops: list[Op] = field(default_factory=list)
    drawn: str | None = None


def _log_uniform(draw: Draw, low: float, high: float) -> float:
    return 2 ** draw.uniform(math.log2(low), math.log2(high))


def _mixed(setting: DegradationSetting, draw: Draw, shape: Shape) -> Plan:
    """Date, family, then the family's parameters, in that order from one stream."""
    date = "t1" if draw.uniform(0.0, 1.0) < setting.t1_probability else "t2"
    u, family = draw.uniform(0.0, 1.0), "multi"
    for name, probability in tables.MIXED_FAMILY_PROBABILITIES.items():
        if u < probability:
            family = name
            break
        u -= probability
    if family == "clean":
        return Plan(date, [], "clean")
    if family == "resolution":
        scale = _log_uniform(draw, *tables.MIXED_RESOLUTION_SCALE_RANGE)
        return Plan(date, _resolution_ops(scale, shape), f"resolution-x{scale:.2f}")
    if family == "single":
        kind, severity = draw.choice(SINGLE_KINDS), draw.choice(SEVERITIES)
        return Plan(date, _single_ops(kind, severity, draw, shape), f"single-{kind}-s{severity}")
    scale = _log_uniform(draw, *tables.MIXED_MULTI_SCALE_RANGE)
    return Plan(date, _multi_ops(scale, draw, shape), f"multi-x{scale:.2f}")


def sample_plan(
    setting: DegradationSetting, generator: torch.Generator | None, shape: Shape, date: str
) -> Plan:
    """One C×H×W image pair's plan under ``setting``, drawn from ``generator``; ``date`` is
    the caller's date, used where the setting names none ("mixed" draws its own first)."""
    draw = Draw(generator)
    if setting.setting == "mixed":
        return _mixed(setting, draw, shape)
    return Plan(setting.date or date, SAMPLERS[setting.setting](setting, draw, shape))
