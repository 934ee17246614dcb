"""Padding inputs to a multiple of the network stride, so any H×W can be fed to a model."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from hicd.errors import check_choice

PAD_MODES = ("reflect", "constant", "replicate")


def is_tracing() -> bool:
    """True while the model is traced or compiled (export), where shape-dependent branches must not run."""
    return torch.jit.is_tracing() or torch.compiler.is_compiling()


def check_pad_mode(pad_mode: str) -> str:
    """Return ``pad_mode`` or raise ConfigError naming the valid modes."""
    return check_choice(pad_mode, PAD_MODES, "pad_mode")


def pad_to_multiple(x: Tensor, multiple: int, mode: str = "reflect") -> Tensor:
    """Pad the bottom and right of ``x`` (B×C×H×W) so H and W become multiples of ``multiple``.

    ``"reflect"`` mirrors the image; it needs the padding to be smaller than the image side, so
    images smaller than that are zero-padded instead (never while tracing: an exported graph
    always reflects and therefore needs H, W ≥ ``multiple``).
    """
    height, width = x.shape[-2:]
    pad_h = (multiple - height % multiple) % multiple
    pad_w = (multiple - width % multiple) % multiple
    if not is_tracing():
        if pad_h == 0 and pad_w == 0:
            return x
        if mode == "reflect" and (pad_h >= height or pad_w >= width):
            mode = "constant"
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
