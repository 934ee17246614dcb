"""Batched application of sampled operations: one applier per op name, per-sample parameters.

Samples are grouped by the parameters a kernel call must share (kernel size, resize mode), so
a sample always runs through calls of the same shape whatever the rest of its batch holds.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from hicd.degradations.jpeg import jpeg_roundtrip
from hicd.degradations.kernels import KERNEL_BUILDERS, Kernel


@dataclass
class Op:
    """One operation sampled for one image.

    Attributes:
        record: JSON-serialisable parameters, with the op name under "op".
        field: a random tensor the op needs (noise, haze depth grid), drawn on the CPU.
    """

    record: dict[str, Any]
    field: Tensor | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.record["op"]


Applier = Callable[[Tensor, Sequence[Op]], Tensor]

# torch's legacy "nearest" samples with a half-pixel shift; "nearest-exact" picks the pixel whose
# centre is nearest, which keeps the downsampled image aligned with the reference grid.
_TORCH_MODES = {"nearest": "nearest-exact", "bilinear": "bilinear", "bicubic": "bicubic"}


def _per_sample(ops: Sequence[Op], key: str, like: Tensor) -> Tensor:
    """Parameter ``key`` of every op as a B×1×1×1 tensor on ``like``'s device."""
    values = torch.tensor([op.record[key] for op in ops], dtype=like.dtype)
    return values.view(-1, 1, 1, 1).to(like.device)


def _fields(ops: Sequence[Op], like: Tensor) -> Tensor:
    return torch.stack([op.field for op in ops]).to(device=like.device, dtype=like.dtype)


def _grouped(
    x: Tensor, keys: Sequence[Hashable], apply: Callable[[Tensor, list[int]], Tensor]
) -> Tensor:
    """Call ``apply(x[idx], idx)`` once per group of samples sharing a key; reassemble in order."""
    groups: dict[Hashable, list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    if len(groups) == 1:
        return apply(x, list(range(x.shape[0])))
    parts = [(idx, apply(x[idx], idx)) for idx in groups.values()]
    out = parts[0][1].new_empty((x.shape[0], *parts[0][1].shape[1:]))
    for idx, part in parts:
        out[idx] = part
    return out


def _convolve(x: Tensor, kernels: Sequence[Kernel]) -> Tensor:
    """Depthwise convolution of each sample with its kernel (all the same size), replicate padding."""
    b, c, h, w = x.shape
    k = kernels[0].size
    weights = torch.stack([kern.weights for kern in kernels]).to(device=x.device, dtype=x.dtype)
    weights = weights.repeat_interleave(c, dim=0).unsqueeze(1)  # (B*C, 1, k[, k])
    planes = F.pad(x.reshape(1, b * c, h, w), (k // 2,) * 4, mode="replicate")
    if kernels[0].separable:
        planes = F.conv2d(planes, weights.unsqueeze(2), groups=b * c)  # along x
        out = F.conv2d(planes, weights.unsqueeze(3), groups=b * c)  # along y
    else:
        out = F.conv2d(planes, weights, groups=b * c)
    return out.reshape(b, c, h, w)


def apply_filter(x: Tensor, ops: Sequence[Op]) -> Tensor:
    """Blur each sample with the kernel its record describes."""
    kernels = [KERNEL_BUILDERS[op.name](op.record) for op in ops]
    keys = [(kern.separable, kern.size) for kern in kernels]
    return _grouped(x, keys, lambda part, idx: _convolve(part, [kernels[i] for i in idx]))


def _resize(x: Tensor, mode: str, antialias: bool, size: tuple[int, int]) -> Tensor:
    torch_mode = _TORCH_MODES[mode]
    options = {} if torch_mode == "nearest-exact" else {"align_corners": False}
    return F.interpolate(x, size=size, mode=torch_mode, antialias=antialias, **options)


def apply_resize(x: Tensor, ops: Sequence[Op]) -> Tensor:
    """Resample each sample to the record's size with the record's mode and antialiasing."""
    keys = [(op.record["mode"], op.record["antialias"], tuple(op.record["size"])) for op in ops]
    return _grouped(x, keys, lambda part, idx: _resize(part, *keys[idx[0]]))


def apply_noise(x: Tensor, ops: Sequence[Op]) -> Tensor:
    """Add each sample's standard-normal field scaled by its sigma (0-1 scale)."""
    return x + _per_sample(ops, "sigma", x) * _fields(ops, x)


def apply_jpeg(x: Tensor, ops: Sequence[Op]) -> Tensor:
    """JPEG round trip of each sample at its quality."""
    return torch.stack(
        [jpeg_roundtrip(image, op.record["quality"]) for image, op in zip(x, ops, strict=True)]
    )


def apply_haze(x: Tensor, ops: Sequence[Op]) -> Tensor:
    """Atmospheric scattering I = J*t + A*(1-t), t = exp(-beta*depth), depth a smooth field."""
    grids = _fields(ops, x)  # B×1×g×g depth values
    depth = F.interpolate(grids, size=x.shape[-2:], mode="bilinear", align_corners=True)
    transmission = torch.exp(-_per_sample(ops, "beta", x) * depth)
    return x * transmission + _per_sample(ops, "airlight", x) * (1 - transmission)


def apply_low_light(x: Tensor, ops: Sequence[Op]) -> Tensor:
    """Darkening out = gain * in ** gamma."""
    return _per_sample(ops, "gain", x) * x.pow(_per_sample(ops, "gamma", x))


APPLIERS: Mapping[str, Applier] = {
    "gaussian_blur": apply_filter,
    "anisotropic_gaussian_blur": apply_filter,
    "motion_blur": apply_filter,
    "downsample": apply_resize,
    "upsample": apply_resize,
    "gaussian_noise": apply_noise,
    "jpeg": apply_jpeg,
    "haze": apply_haze,
    "low_light": apply_low_light,
}


def run_plans(images: Tensor, plans: Sequence[Sequence[Op]]) -> Tensor:
    """Apply each image's op sequence, stage by stage across the batch, clamping to [0, 1].

    Every plan must have the same length and, at each stage, ops sharing one applier.
    """
    x = images
    for stage in zip(*plans, strict=True):
        appliers = {APPLIERS[op.name] for op in stage}
        if len(appliers) != 1:
            raise AssertionError(f"ops {[op.name for op in stage]} cannot share one stage")
        x = appliers.pop()(x, stage).clamp_(0, 1)
    return x
