"""The single-kind degradations, one record each: severity table row, sampler and operation.

``KINDS`` is the one place a kind is defined; ``SINGLE_KINDS`` and ``SEVERITY_TABLE`` are derived
from it. docs/degradations.md reproduces the table; tests/degradations/test_docs.py keeps the two
equal. Adding a kind is adding one record (and its docs row).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from hicd.degradations import ops, tables
from hicd.degradations.draws import Draw
from hicd.degradations.ops import Op

Shape = tuple[int, int, int]  # C, H, W
Parameters = Mapping[str, float]


@dataclass(frozen=True)
class DegradationKind:
    """One single-kind degradation.

    Attributes:
        name: the kind in setting names (``single-<name>-s<severity>``).
        severities: severity (1 mild .. 5 severe, each kind monotone) -> parameters.
        sample: (parameters of a severity, draw, C×H×W) -> the image's op, which carries the
            operation (its applier) and any random field.
    """

    name: str
    severities: Mapping[int, Parameters]
    sample: Callable[[Parameters, Draw, Shape], Op]


def _gaussian_blur(params: Parameters, draw: Draw, shape: Shape) -> Op:
    sigma = params["sigma"]
    return ops.gaussian_blur(sigma, 2 * math.ceil(tables.GAUSSIAN_TRUNCATE * sigma) + 1)


def _motion_blur(params: Parameters, draw: Draw, shape: Shape) -> Op:
    return ops.motion_blur(params["length"], draw.uniform(*tables.MOTION_ANGLE_RANGE))


def _gaussian_noise(params: Parameters, draw: Draw, shape: Shape) -> Op:
    return ops.gaussian_noise(params["sigma"], draw.normal(shape))


def _jpeg(params: Parameters, draw: Draw, shape: Shape) -> Op:
    return ops.jpeg(params["quality"])


def _haze(params: Parameters, draw: Draw, shape: Shape) -> Op:
    airlight = draw.uniform(*tables.HAZE_AIRLIGHT_RANGE)
    low, high = tables.HAZE_DEPTH_RANGE
    grid = low + (high - low) * draw.field((1, tables.HAZE_DEPTH_GRID, tables.HAZE_DEPTH_GRID))
    return ops.haze(params["beta"], airlight, grid)


def _low_light(params: Parameters, draw: Draw, shape: Shape) -> Op:
    return ops.low_light(params["gamma"], params["gain"])


def _row(key: str, values: tuple[float, ...]) -> dict[int, dict[str, float]]:
    return {severity: {key: value} for severity, value in enumerate(values, start=1)}


_RECORDS = (
    # Isotropic Gaussian, sigma in pixels; kernel size 2*ceil(3*sigma)+1.
    DegradationKind("gaussian_blur", _row("sigma", (1.0, 2.0, 3.0, 4.0, 6.0)), _gaussian_blur),
    # Antialiased line of `length` pixels, angle drawn uniformly in MOTION_ANGLE_RANGE.
    DegradationKind("motion_blur", _row("length", (5, 9, 13, 17, 21)), _motion_blur),
    # Additive zero-mean Gaussian, sigma on the [0, 1] scale, independent per band and pixel.
    DegradationKind(
        "gaussian_noise", _row("sigma", (0.08, 0.12, 0.18, 0.26, 0.38)), _gaussian_noise
    ),
    # JPEG quality factor (libjpeg scale, 1..100).
    DegradationKind("jpeg", _row("quality", (25, 18, 15, 10, 7)), _jpeg),
    # Scattering coefficient beta of t = exp(-beta * depth), depth in HAZE_DEPTH_RANGE.
    DegradationKind("haze", _row("beta", (0.25, 0.6, 1.1, 1.8, 2.8)), _haze),
    # out = gain * in ** gamma.
    DegradationKind(
        "low_light",
        {
            1: {"gamma": 1.2, "gain": 0.85},
            2: {"gamma": 1.4, "gain": 0.7},
            3: {"gamma": 1.7, "gain": 0.55},
            4: {"gamma": 2.0, "gain": 0.4},
            5: {"gamma": 2.5, "gain": 0.3},
        },
        _low_light,
    ),
)

KINDS: Mapping[str, DegradationKind] = {kind.name: kind for kind in _RECORDS}
"""Every single kind by name, in the order settings expand ("single" -> every kind)."""

SINGLE_KINDS: tuple[str, ...] = tuple(KINDS)

SEVERITY_TABLE: Mapping[str, Mapping[int, Parameters]] = {
    name: kind.severities for name, kind in KINDS.items()
}
"""kind -> severity (1..5) -> parameters, as docs/degradations.md lists them."""
