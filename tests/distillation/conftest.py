"""A tiny siamese change model returning ChangeOutput, standing in for hicd.models."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from hicd.models.output import ChangeOutput


class TinyChangeModel(nn.Module):
    """Two encoder levels (strides 2, 4), two change levels, BN so that eval/train differ."""

    def __init__(self, width: int = 4, in_channels: int = 3, expose_channels: bool = True) -> None:
        super().__init__()
        self.config = {"width": width, "in_channels": in_channels}
        widths = [width, 2 * width]
        self.stages = nn.ModuleList(
            [
                nn.Sequential(nn.Conv2d(cin, cout, 3, 2, 1), nn.BatchNorm2d(cout), nn.ReLU())
                for cin, cout in zip([in_channels, widths[0]], widths, strict=True)
            ]
        )
        self.fuse = nn.ModuleList([nn.Conv2d(c, width + 1, 1) for c in widths])
        self.head = nn.Conv2d(width + 1, 2, 1)
        if expose_channels:
            self.encoder_channels = widths
            self.change_channels = [width + 1, width + 1]

    def _encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return features

    def forward(self, t1: torch.Tensor, t2: torch.Tensor) -> ChangeOutput:
        f1, f2 = self._encode(t1), self._encode(t2)
        change = [fuse((a - b).abs()) for fuse, a, b in zip(self.fuse, f1, f2, strict=True)]
        fused = change[0] + F.interpolate(change[1], size=change[0].shape[-2:], mode="bilinear")
        logits = F.interpolate(self.head(fused), size=t1.shape[-2:], mode="bilinear")
        return ChangeOutput(logits, f1, f2, change)


@pytest.fixture
def tiny_model() -> type[TinyChangeModel]:
    """The :class:`TinyChangeModel` class (a factory: ``tiny_model(width=4)``)."""
    return TinyChangeModel


@pytest.fixture
def batch() -> dict[str, torch.Tensor]:
    """Clean and degraded 2×3×16×16 pairs and a mask with a few ignored pixels."""
    g = torch.Generator().manual_seed(0)
    clean_t1, clean_t2 = (
        torch.rand(2, 3, 16, 16, generator=g),
        torch.rand(2, 3, 16, 16, generator=g),
    )
    mask = (torch.rand(2, 16, 16, generator=g) > 0.7).long()
    mask[:, :2] = 255
    return {
        "clean_t1": clean_t1,
        "clean_t2": clean_t2,
        "degraded_t1": (clean_t1 + 0.1 * torch.randn(clean_t1.shape, generator=g)).clamp(0, 1),
        "degraded_t2": (clean_t2 + 0.1 * torch.randn(clean_t2.shape, generator=g)).clamp(0, 1),
        "mask": mask,
    }
