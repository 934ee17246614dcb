"""Small synthetic images for the degradation tests."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor


def _textured(batch: int, channels: int, height: int, width: int, seed: int = 0) -> Tensor:
    """Smooth gradients plus fine random texture, in [0.1, 0.9] so clipping stays rare."""
    g = torch.Generator().manual_seed(seed)
    y = torch.linspace(0, 1, height).view(1, 1, height, 1)
    x = torch.linspace(0, 1, width).view(1, 1, 1, width)
    phase = torch.rand(batch, channels, 1, 1, generator=g) * 2 * math.pi
    smooth = 0.5 + 0.2 * torch.sin(6 * x + 4 * y + phase)
    texture = 0.2 * (torch.rand(batch, channels, height, width, generator=g) - 0.5)
    return (smooth + texture).clamp(0.1, 0.9)


def _high_frequency(images: Tensor) -> float:
    """Mean absolute difference between neighbouring pixels (both axes)."""
    dx = (images[..., :, 1:] - images[..., :, :-1]).abs().mean()
    dy = (images[..., 1:, :] - images[..., :-1, :]).abs().mean()
    return float(dx + dy)


@pytest.fixture
def textured():
    """``textured(batch, channels, height, width, seed=0)``: smooth gradients plus fine texture."""
    return _textured


@pytest.fixture
def high_frequency():
    """``high_frequency(images)``: mean absolute neighbour difference."""
    return _high_frequency


@pytest.fixture
def images() -> Tensor:
    return _textured(2, 3, 64, 64)
