"""``bit``: a Bitemporal Image Transformer (BIT, Chen et al. 2021) style change detector."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hicd.errors import ConfigError
from hicd.models.base import ChangeDetectionModel
from hicd.models.blocks import ConvBNReLU
from hicd.models.encoders import DEFAULT_BACKBONE, Pretrained, create_encoder
from hicd.models.output import ChangeOutput
from hicd.models.transformer import Transformer


class SemanticTokenizer(nn.Module):
    """Spatial attention → ``num_tokens`` tokens: each token is an attention-weighted pixel sum."""

    def __init__(self, channels: int, num_tokens: int) -> None:
        super().__init__()
        self.attention = nn.Conv2d(channels, num_tokens, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        weights = self.attention(x).flatten(2).softmax(dim=-1)  # B×L×HW
        return weights @ x.flatten(2).transpose(1, 2)  # B×L×C


class BIT(ChangeDetectionModel):
    """BIT-style model on the first ``encoder_levels`` levels of a CNN backbone.

    Steps: the shared encoder gives ``encoder_levels`` levels (default 3: strides 4, 8, 16, like
    BIT's ResNet truncated after its third stage); the coarser maps are upsampled bilinearly to
    stride 4, concatenated and projected (3×3 ConvBNReLU) to ``decoder_channels`` C; a semantic
    tokenizer turns each date into ``num_tokens`` L tokens; a transformer encoder runs over the 2L
    tokens of both dates (learned positional embedding); a transformer decoder lets each date's
    pixels (queries) attend to that date's tokens; |difference| of the two refined maps is the
    change feature; a head (3×3 ConvBNReLU + 1×1 conv) gives logits at stride 4, upsampled
    bilinearly to the input size.

    ``features_t1``/``features_t2``: ``encoder_levels`` maps (default 3: 24, 32, 96 channels for
    tv_mobilenet_v2 at strides 4, 8, 16). ``change_features``: 1 map of C channels at stride 4.
    ``output_stride``: the coarsest level's stride (16 by default).
    """

    name = "bit"

    def __init__(
        self,
        backbone: str = DEFAULT_BACKBONE,
        pretrained: Pretrained = None,
        in_channels: int = 3,
        decoder_channels: int = 32,
        encoder_levels: int = 3,
        num_tokens: int = 4,
        num_heads: int = 4,
        encoder_depth: int = 1,
        decoder_depth: int = 1,
        mlp_ratio: int = 2,
        pad_mode: str = "reflect",
        strict_size: bool = False,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
    ) -> None:
        if decoder_channels % num_heads:
            raise ConfigError(
                f"decoder_channels={decoder_channels} must be divisible by num_heads={num_heads}"
            )
        encoder = create_encoder(backbone, encoder_levels, pretrained, in_channels)
        super().__init__(encoder, [decoder_channels], in_channels, mean, std, pad_mode, strict_size)
        dim = decoder_channels
        self.project = ConvBNReLU(sum(encoder.channels), dim)
        self.tokenizer = SemanticTokenizer(dim, num_tokens)
        self.token_position = nn.Parameter(torch.randn(1, 2 * num_tokens, dim) * 0.02)
        self.token_encoder = Transformer(dim, encoder_depth, num_heads, mlp_ratio * dim)
        self.token_decoder = Transformer(dim, decoder_depth, num_heads, mlp_ratio * dim)
        self.head = nn.Sequential(ConvBNReLU(dim, dim), nn.Conv2d(dim, 2, 1))

    def _pixels(self, levels: list[Tensor]) -> Tensor:
        strides = self.encoder.strides
        upsampled = [levels[0]] + [
            F.interpolate(
                level,
                scale_factor=float(stride // strides[0]),
                mode="bilinear",
                align_corners=False,
            )
            for level, stride in zip(levels[1:], strides[1:], strict=True)
        ]
        return self.project(torch.cat(upsampled, dim=1))

    def _decode(self, pixels: Tensor, tokens: Tensor) -> Tensor:
        queries = pixels.flatten(2).transpose(1, 2)  # B×HW×C
        return self.token_decoder(queries, tokens).transpose(1, 2).reshape_as(pixels)

    def forward_padded(self, t1: Tensor, t2: Tensor) -> ChangeOutput:
        batch = t1.shape[0]
        levels = self.encoder(torch.cat([t1, t2], dim=0))  # shared weights, both dates at once
        features_t1 = [level[:batch] for level in levels]
        features_t2 = [level[batch:] for level in levels]
        pixels = self._pixels(levels)  # 2B×C×h×w, both dates
        tokens = self.tokenizer(pixels)  # 2B×L×C
        joint = torch.cat([tokens[:batch], tokens[batch:]], dim=1) + self.token_position
        joint = self.token_encoder(joint)  # B×2L×C
        num_tokens = tokens.shape[1]
        tokens = torch.cat([joint[:, :num_tokens], joint[:, num_tokens:]], dim=0)
        refined = self._decode(pixels, tokens)
        change = (refined[:batch] - refined[batch:]).abs()
        logits = F.interpolate(
            self.head(change),
            scale_factor=float(self.encoder.strides[0]),
            mode="bilinear",
            align_corners=False,
        )
        return ChangeOutput(logits, features_t1, features_t2, [change])
