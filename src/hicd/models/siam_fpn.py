"""``siam_fpn``: Siamese CNN encoder, per-level change fusion and an FPN-style decoder."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hicd.models.base import ChangeDetectionModel
from hicd.models.blocks import ConvBNReLU
from hicd.models.encoders import DEFAULT_BACKBONE, Pretrained, create_encoder
from hicd.models.output import ChangeOutput


class ChangeFusion(nn.Module):
    """concat(f1, f2, |f1 − f2|) → 1×1 ConvBNReLU → 3×3 ConvBNReLU: one level's change features."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            ConvBNReLU(3 * in_channels, out_channels, kernel_size=1),
            ConvBNReLU(out_channels, out_channels, kernel_size=3),
        )

    def forward(self, f1: Tensor, f2: Tensor) -> Tensor:
        return self.block(torch.cat([f1, f2, (f1 - f2).abs()], dim=1))


class FPNDecoder(nn.Module):
    """Top-down pathway: from the coarsest level, upsample ×2, add the next finer level, smooth."""

    def __init__(self, num_levels: int, channels: int) -> None:
        super().__init__()
        self.smooth = nn.ModuleList(ConvBNReLU(channels, channels) for _ in range(num_levels - 1))

    def forward(self, levels: list[Tensor]) -> Tensor:
        x = levels[-1]
        for smooth, finer in zip(self.smooth, reversed(levels[:-1]), strict=True):
            x = smooth(finer + F.interpolate(x, scale_factor=2.0, mode="nearest"))
        return x


class SiamFPN(ChangeDetectionModel):
    """Siamese encoder (4 levels, strides 4/8/16/32) → 4 fused change levels → FPN → 2-class head.

    ``features_t1``/``features_t2``: 4 maps (``encoder_channels``, e.g. 24, 32, 96, 320 for
    tv_mobilenet_v2) at strides 4, 8, 16, 32. ``change_features``: 4 maps of
    ``decoder_channels`` at the same strides. The head (3×3 ConvBNReLU + 1×1 conv) runs at
    stride 4 and its logits are upsampled bilinearly to the input size.
    """

    name = "siam_fpn"

    def __init__(
        self,
        backbone: str = DEFAULT_BACKBONE,
        pretrained: Pretrained = None,
        in_channels: int = 3,
        decoder_channels: int = 64,
        pad_mode: str = "reflect",
        strict_size: bool = False,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
    ) -> None:
        encoder = create_encoder(backbone, 4, pretrained, in_channels)
        num_levels = len(encoder.channels)
        super().__init__(
            encoder, [decoder_channels] * num_levels, in_channels, mean, std, pad_mode, strict_size
        )
        self.fusion = nn.ModuleList(ChangeFusion(c, decoder_channels) for c in encoder.channels)
        self.decoder = FPNDecoder(num_levels, decoder_channels)
        self.head = nn.Sequential(
            ConvBNReLU(decoder_channels, decoder_channels), nn.Conv2d(decoder_channels, 2, 1)
        )

    def forward_padded(self, t1: Tensor, t2: Tensor) -> ChangeOutput:
        features_t1, features_t2 = self.encode_pair(t1, t2)
        changes = [
            fuse(f1, f2) for fuse, f1, f2 in zip(self.fusion, features_t1, features_t2, strict=True)
        ]
        logits = self.head(self.decoder(changes))
        logits = F.interpolate(
            logits,
            scale_factor=float(self.encoder.strides[0]),
            mode="bilinear",
            align_corners=False,
        )
        return ChangeOutput(logits, features_t1, features_t2, changes)
