"""Small convolution blocks shared by the decoders."""

from __future__ import annotations

from torch import nn


class ConvBNReLU(nn.Sequential):
    """``Conv2d`` (no bias, "same" padding) → ``BatchNorm2d`` → ``ReLU``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )
