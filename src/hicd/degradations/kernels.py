"""Blur kernels, built on the CPU in float64 so every device gets the same taps."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def _grid(size: int) -> tuple[Tensor, Tensor]:
    """Pixel offsets (x to the right, y down) of a size x size kernel centred on 0."""
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    y, x = torch.meshgrid(r, r, indexing="ij")
    return x, y


def _normalised(weights: Tensor) -> Tensor:
    return (weights / weights.sum()).to(torch.float32)


def gaussian_1d(sigma: float, size: int) -> Tensor:
    """Normalised 1-D Gaussian of standard deviation ``sigma`` over ``size`` taps."""
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    return _normalised(torch.exp(-0.5 * (r / sigma) ** 2))


def anisotropic_gaussian_2d(sigma_x: float, sigma_y: float, theta: float, size: int) -> Tensor:
    """Normalised 2-D Gaussian with axis sigmas ``sigma_x``, ``sigma_y`` rotated by ``theta`` degrees."""
    x, y = _grid(size)
    c, s = math.cos(math.radians(theta)), math.sin(math.radians(theta))
    u, v = c * x + s * y, -s * x + c * y
    return _normalised(torch.exp(-0.5 * ((u / sigma_x) ** 2 + (v / sigma_y) ** 2)))


def motion_2d(length: int, angle: float, size: int) -> Tensor:
    """Normalised antialiased line of ``length`` pixels through the centre at ``angle`` degrees."""
    x, y = _grid(size)
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    along, across = c * x + s * y, -s * x + c * y
    coverage = (1 - across.abs()).clamp(min=0) * ((length + 1) / 2 - along.abs()).clamp(0, 1)
    return _normalised(coverage)
