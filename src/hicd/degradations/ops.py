"""Operations: one image's sampled op (record, applier, tensor) and their batched application.

Each op carries the applier that runs it, so no table maps op names to code. Samples are grouped
by the parameters a kernel call must share (kernel size, resize mode), so a sample always runs
through calls of the same shape whatever the rest of its batch holds.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from hicd.degradations.jpeg import jpeg_roundtrip
from hicd.degradations.kernels import anisotropic_gaussian_2d, gaussian_1d, motion_2d

Applier = Callable[[Tensor, Sequence["Op"]], Tensor]


@dataclass
class Op:
    """One operation sampled for one image.

    Attributes:
        record: JSON-serialisable parameters, with the op name under "op".
        apply: the batched applier of this op (ops of one stage share it).
        field: a tensor the op needs, made on the CPU: noise, haze depth grid or blur kernel
            (1-D: applied separably along both axes; 2-D: a full kernel).
    """

    record: dict[str, Any]
    apply: Applier = field(repr=False)
    field: Tensor | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.record["op"]


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


def _convolve(x: Tensor, kernels: Sequence[Tensor]) -> Tensor:
    """Depthwise convolution of each sample with its kernel (all the same size), replicate padding."""
    b, c, h, w = x.shape
    k = kernels[0].shape[-1]
    weights = torch.stack(list(kernels)).to(device=x.device, dtype=x.dtype)
    weights = weights.repeat_interleave(c, dim=0).unsqueeze(1)  # (B*C, 1, k[, k])
    planes = F.pad(x.reshape(1, b * c, h, w), (k // 2,) * 4, mode="replicate")
    if kernels[0].ndim == 1:
        planes = F.conv2d(planes, weights.unsqueeze(2), groups=b * c)  # along x
        out = F.conv2d(planes, weights.unsqueeze(3), groups=b * c)  # along y
    else:
        out = F.conv2d(planes, weights, groups=b * c)
    return out.reshape(b, c, h, w)


def apply_filter(x: Tensor, ops: Sequence[Op]) -> Tensor:
    """Blur each sample with its kernel (the op's field)."""
    kernels = [op.field for op in ops]
    keys = [(kern.ndim, kern.shape[-1]) for kern in kernels]
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


# ---- ops: their records, appliers and tensors, whoever samples them (a kind or a chain)


def gaussian_blur(sigma: float, kernel_size: int) -> Op:
    """Isotropic Gaussian blur, applied separably."""
    record = {"op": "gaussian_blur", "sigma": sigma, "kernel_size": kernel_size}
    return Op(record, apply_filter, gaussian_1d(sigma, kernel_size))


def anisotropic_gaussian_blur(sigma_x: float, sigma_y: float, theta: float, size: int) -> Op:
    """Gaussian blur with axis sigmas ``sigma_x``, ``sigma_y`` rotated by ``theta`` degrees."""
    record = {
        "op": "anisotropic_gaussian_blur",
        "sigma_x": sigma_x,
        "sigma_y": sigma_y,
        "theta": theta,
        "kernel_size": size,
    }
    return Op(record, apply_filter, anisotropic_gaussian_2d(sigma_x, sigma_y, theta, size))


def motion_blur(length: int, angle: float) -> Op:
    """Antialiased line of ``length`` pixels at ``angle`` degrees; kernel size = length."""
    record = {"op": "motion_blur", "length": length, "angle": angle, "kernel_size": length}
    return Op(record, apply_filter, motion_2d(length, angle, length))


def downsample(scale: float, mode: str, antialias: bool, size: list[int]) -> Op:
    """Resample to the reduced ``size`` (h, w) of a ``scale`` times smaller grid."""
    record = {
        "op": "downsample",
        "scale": scale,
        "mode": mode,
        "antialias": antialias,
        "size": size,
    }
    return Op(record, apply_resize)


def upsample(height: int, width: int) -> Op:
    """Bicubic resampling back to the reference H × W."""
    record = {"op": "upsample", "mode": "bicubic", "antialias": False, "size": [height, width]}
    return Op(record, apply_resize)


def gaussian_noise(sigma: float, normal: Tensor) -> Op:
    """Add ``sigma`` (0-1 scale) times a standard-normal C×H×W field."""
    record = {"op": "gaussian_noise", "sigma": sigma, "sigma_255": sigma * 255}
    return Op(record, apply_noise, normal)


def jpeg(quality: int) -> Op:
    """JPEG round trip at ``quality``."""
    return Op({"op": "jpeg", "quality": quality}, apply_jpeg)


def haze(beta: float, airlight: float, grid: Tensor) -> Op:
    """Scattering with coefficient ``beta``, grey ``airlight`` and a 1×g×g float64 depth grid."""
    record = {"op": "haze", "beta": beta, "airlight": airlight, "depth_grid": grid[0].tolist()}
    return Op(record, apply_haze, grid.to(torch.float32))


def low_light(gamma: float, gain: float) -> Op:
    """Darkening out = gain * in ** gamma."""
    return Op({"op": "low_light", "gamma": gamma, "gain": gain}, apply_low_light)


def run_plans(images: Tensor, plans: Sequence[Sequence[Op]]) -> Tensor:
    """Apply each image's op sequence, stage by stage across the batch, clamping to [0, 1].

    Every plan must have the same length and, at each stage, ops sharing one applier.
    """
    x = images
    for stage in zip(*plans, strict=True):
        appliers = {op.apply for op in stage}
        if len(appliers) != 1:
            raise AssertionError(f"ops {[op.name for op in stage]} cannot share one stage")
        x = appliers.pop()(x, stage).clamp_(0, 1)
    return x
