"""Correlation distillation losses: self-, cross- and global correlation between feature maps.

Every position's C-vector is L2-normalised as ``f / max(||f||, EPS)`` (``EPS = 1e-6``), as in
``torch.nn.functional.normalize``. For feature maps flattened to ``C×N`` (``N = H·W``):

* self-correlation ``S(F) = F̂ᵀF̂`` (N×N),
* cross-correlation ``X(F₁, F₂) = F̂₁ᵀF̂₂`` (N×N),
* global correlation over M images ``G = [gᵢ·gⱼ]`` with ``gᵢ`` the normalised spatial mean.

With ``centered=True`` each image's map first loses its per-channel spatial mean (self and
cross; each date separately), and the global loss subtracts the mean of the M spatial-mean
vectors before normalising them: correlations of post-ReLU or ``abs`` features then no longer
saturate near 1.

Each public loss has its readable reference beside it (``naive_*``: the N×N matrices built
and compared as defined above; tests and benchmarks check against them). The losses themselves
run on a blockwise Gram engine (``hicd.distillation._gram``) that never builds an N×N matrix;
see docs/distillation.md for the derivation.
"""

from __future__ import annotations

import torch
from torch import Tensor

from hicd.distillation._gram import EPS, CorrelationDistance, no_autocast
from hicd.errors import DataError

__all__ = [
    "EPS",
    "cross_correlation_loss",
    "global_correlation_loss",
    "naive_cross_correlation_loss",
    "naive_global_correlation_loss",
    "naive_self_correlation_loss",
    "normalize_positions",
    "self_correlation_loss",
]

_LOW_PRECISION = (torch.float16, torch.bfloat16)


def _check_maps(name: str, *maps: Tensor) -> None:
    for index, f in enumerate(maps):
        if f.dim() != 4:
            raise DataError(
                f"{name}: argument {index} must be a B×C×H×W tensor, got shape {tuple(f.shape)}"
            )


def _check_pair(name: str, student: Tensor, teacher: Tensor, spatial: bool = True) -> None:
    """Student and teacher maps must share batch size (and spatial size when ``spatial``)."""
    s, t = tuple(student.shape), tuple(teacher.shape)
    if s[0] != t[0]:
        raise DataError(f"{name}: student shape {s} and teacher shape {t} differ in batch size")
    if spatial and s[2:] != t[2:]:
        raise DataError(
            f"{name}: student shape {s} and teacher shape {t} must have the same H×W "
            "(correlations compare position pairs)"
        )


def _working(f: Tensor, centered: bool = False) -> Tensor:
    """Flatten to B×C×N in at least float32 (half-precision inputs from autocast are upcast);
    ``centered`` subtracts each image's per-channel spatial mean."""
    f = f.flatten(2)
    f = f.float() if f.dtype in _LOW_PRECISION else f
    return f - f.mean(dim=-1, keepdim=True) if centered else f


def normalize_positions(f: Tensor) -> Tensor:
    """B×C×H×W (or B×C×N) → B×C×N with each position's C-vector divided by ``max(norm, EPS)``."""
    flat = f.flatten(2)
    return flat / flat.norm(dim=1, keepdim=True).clamp_min(EPS)


def self_correlation_loss(f_s: Tensor, f_t: Tensor, centered: bool = False) -> Tensor:
    """``‖S(Fˢ) − S(Fᵗ)‖²_F / N²`` averaged over the batch, without building N×N matrices.

    Args:
        f_s: student features, B×C_s×H×W.
        f_t: teacher features, B×C_t×H×W (same B, H, W; C may differ).
        centered: subtract each image's per-channel spatial mean before normalising.

    Returns:
        A scalar tensor (float32, or float64 for float64 inputs), always ≥ 0.
    """
    _check_maps("self_correlation_loss", f_s, f_t)
    _check_pair("self_correlation_loss", f_s, f_t)
    return CorrelationDistance.apply(_working(f_s), _working(f_t), None, None, centered)


def naive_self_correlation_loss(f_s: Tensor, f_t: Tensor, centered: bool = False) -> Tensor:
    """Reference :func:`self_correlation_loss` that materialises the N×N matrices."""
    _check_maps("naive_self_correlation_loss", f_s, f_t)
    _check_pair("naive_self_correlation_loss", f_s, f_t)
    a, b = (normalize_positions(_working(f, centered)) for f in (f_s, f_t))
    diff = a.transpose(1, 2) @ a - b.transpose(1, 2) @ b
    return diff.square().sum(dim=(1, 2)).mean() / float(a.shape[-1]) ** 2


def cross_correlation_loss(
    f1_s: Tensor, f2_s: Tensor, f1_t: Tensor, f2_t: Tensor, centered: bool = False
) -> Tensor:
    """``‖X(F₁ˢ, F₂ˢ) − X(F₁ᵗ, F₂ᵗ)‖²_F / N²`` averaged over the batch, ``X(F₁, F₂) = F̂₁ᵀF̂₂``.

    Args:
        f1_s, f2_s: student features of dates 1 and 2, B×C_s×H×W each.
        f1_t, f2_t: teacher features of dates 1 and 2, B×C_t×H×W each.
        centered: subtract each image's per-channel spatial mean (each date separately) before
            normalising.

    Returns:
        A scalar tensor (float32, or float64 for float64 inputs), always ≥ 0.
    """
    name = "cross_correlation_loss"
    _check_maps(name, f1_s, f2_s, f1_t, f2_t)
    _check_pair(name, f1_s, f2_s)
    _check_pair(name, f1_t, f2_t)
    _check_pair(name, f1_s, f1_t)
    if f1_s.shape[1] != f2_s.shape[1] or f1_t.shape[1] != f2_t.shape[1]:
        raise DataError(
            f"{name}: the two dates of one model must have the same channels, got student "
            f"{tuple(f1_s.shape)} / {tuple(f2_s.shape)}, teacher {tuple(f1_t.shape)} / "
            f"{tuple(f2_t.shape)}"
        )
    maps = (_working(f) for f in (f1_s, f1_t, f2_s, f2_t))
    return CorrelationDistance.apply(*maps, centered)


def naive_cross_correlation_loss(
    f1_s: Tensor, f2_s: Tensor, f1_t: Tensor, f2_t: Tensor, centered: bool = False
) -> Tensor:
    """Reference :func:`cross_correlation_loss` that materialises the N×N matrices."""
    _check_maps("naive_cross_correlation_loss", f1_s, f2_s, f1_t, f2_t)
    _check_pair("naive_cross_correlation_loss", f1_s, f1_t)
    maps = (f1_s, f2_s, f1_t, f2_t)
    a1, a2, b1, b2 = (normalize_positions(_working(f, centered)) for f in maps)
    diff = a1.transpose(1, 2) @ a2 - b1.transpose(1, 2) @ b2
    return diff.square().sum(dim=(1, 2)).mean() / float(a1.shape[-1]) ** 2


def _global_matrix(f: Tensor, centered: bool) -> Tensor:
    if centered:  # centring subtracts nearly equal vectors: their means must be float64
        mean = _working(f).mean(dim=-1, dtype=torch.float64)
        mean = mean - mean.mean(dim=0, keepdim=True)
    else:
        mean = _working(f).mean(dim=-1).double()
    unit = mean / mean.norm(dim=1, keepdim=True).clamp_min(EPS)
    return unit @ unit.T


def global_correlation_loss(g_s: Tensor, g_t: Tensor, centered: bool = False) -> Tensor:
    """``‖Gˢ − Gᵗ‖²_F / M²`` over the M = B images of the batch, ``Gᵢⱼ = gᵢ·gⱼ``.

    ``gᵢ`` is the L2-normalised spatial mean of image i's features; with ``centered`` the mean
    of the M spatial-mean vectors is subtracted from each before normalising. Student and
    teacher must share the batch size; channels and (since only the spatial mean is used) H×W
    may differ. Concatenate along the batch to correlate several sets together (e.g. both
    dates).
    """
    name = "global_correlation_loss"
    _check_maps(name, g_s, g_t)
    _check_pair(name, g_s, g_t, spatial=False)
    with no_autocast(g_s.device):
        diff = _global_matrix(g_s, centered) - _global_matrix(g_t, centered)
        loss = diff.square().sum() / float(g_s.shape[0]) ** 2
    return loss.to(torch.promote_types(_working(g_s).dtype, _working(g_t).dtype))


def naive_global_correlation_loss(g_s: Tensor, g_t: Tensor, centered: bool = False) -> Tensor:
    """Reference :func:`global_correlation_loss` computed in the inputs' precision."""

    def matrix(f: Tensor) -> Tensor:
        mean = _working(f).mean(dim=-1)
        if centered:
            mean = mean - mean.mean(dim=0, keepdim=True)
        unit = torch.nn.functional.normalize(mean, dim=1, eps=EPS)
        return unit @ unit.T

    return (matrix(g_s) - matrix(g_t)).square().sum() / float(g_s.shape[0]) ** 2
