"""Adapting a backbone's first convolution to a number of input bands other than 3 (RGB).

Rule: for ``in_channels`` ≥ 3 the RGB filters are copied into bands 0-2 and every extra band gets
the mean of the RGB filters; for ``in_channels`` < 3 every band gets that mean. The whole weight is
then scaled by ``3 / in_channels``, so an image whose bands are all equal gives the same
activations as the grey RGB image did, whatever the number of bands.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from hicd.errors import ConfigError

RGB = 3


def adapted_weight(weight: Tensor, in_channels: int) -> Tensor:
    """The first-conv weight (O×3×k×k) rewritten for ``in_channels`` bands (O×in_channels×k×k)."""
    mean = weight.mean(dim=1, keepdim=True)
    kept = weight[:, : RGB if in_channels >= RGB else 0]
    extra = mean.expand(-1, in_channels - kept.shape[1], -1, -1)
    return torch.cat([kept, extra], dim=1) * (RGB / in_channels)


def _first_rgb_conv(module: nn.Module) -> tuple[str, nn.Conv2d]:
    for name, child in module.named_modules():
        if isinstance(child, nn.Conv2d) and child.in_channels == RGB:
            return name, child
    raise ConfigError(
        f"cannot adapt {type(module).__name__} to other band counts: "
        f"it has no convolution taking {RGB} input channels"
    )


def adapt_first_conv(module: nn.Module, in_channels: int) -> None:
    """Replace, in place, the first 3-channel convolution of ``module`` by one taking ``in_channels``."""
    if in_channels == RGB:
        return
    name, conv = _first_rgb_conv(module)
    new = copy.deepcopy(conv)  # keeps the class (e.g. timm's same-padding convs) and settings
    new.in_channels = in_channels
    new.weight = nn.Parameter(adapted_weight(conv.weight.detach(), in_channels).contiguous())
    parent_name, _, child_name = name.rpartition(".")
    setattr(module.get_submodule(parent_name), child_name, new)
