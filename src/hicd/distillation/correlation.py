"""Correlation distillation losses: self-, cross- and global correlation between feature maps.

Every position's C-vector is L2-normalised as ``f / max(||f||, EPS)`` (``EPS = 1e-6``), as in
``torch.nn.functional.normalize``. For feature maps flattened to ``C×N`` (``N = H·W``):

* self-correlation ``S(F) = F̂ᵀF̂`` (N×N),
* cross-correlation ``X(F₁, F₂) = F̂₁ᵀF̂₂`` (N×N),
* global correlation over M images ``G = [gᵢ·gⱼ]`` with ``gᵢ`` the normalised spatial mean.

The public losses never build an N×N matrix: they use
``‖A₁ᵀA₂ − B₁ᵀB₂‖²_F = ⟨A₁A₁ᵀ, A₂A₂ᵀ⟩ − 2⟨A₁B₁ᵀ, A₂B₂ᵀ⟩ + ⟨B₁B₁ᵀ, B₂B₂ᵀ⟩`` (self-correlation is
the case A₁ = A₂, B₁ = B₂), with the C×C Gram products accumulated in float64 over chunks of
positions, so cost is O(C²·N) and extra memory O(C² + C·chunk) besides the input gradients.
The ``naive_*`` functions materialise the N×N matrices; they are the reference for tests and
benchmarks. See docs/method_distillation.md for the derivation.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor

from hicd.errors import ConfigError

EPS = 1e-6
"""Floor of the per-position norm in the L2 normalisation."""

_CHUNK_ELEMENTS = 1 << 18
"""Target number of elements of one float64 chunk buffer (B·C·positions), i.e. 2 MiB."""

_LOW_PRECISION = (torch.float16, torch.bfloat16)


def _check_maps(name: str, *maps: Tensor) -> None:
    for index, f in enumerate(maps):
        if f.dim() != 4:
            raise ConfigError(
                f"{name}: argument {index} must be a B×C×H×W tensor, got shape {tuple(f.shape)}"
            )


def _check_pair(name: str, student: Tensor, teacher: Tensor, spatial: bool = True) -> None:
    """Student and teacher maps must share batch size (and spatial size when ``spatial``)."""
    s, t = tuple(student.shape), tuple(teacher.shape)
    if s[0] != t[0]:
        raise ConfigError(f"{name}: student shape {s} and teacher shape {t} differ in batch size")
    if spatial and s[2:] != t[2:]:
        raise ConfigError(
            f"{name}: student shape {s} and teacher shape {t} must have the same H×W "
            "(correlations compare position pairs)"
        )


def _working(f: Tensor) -> Tensor:
    """Flatten to B×C×N in at least float32 (half-precision inputs from autocast are upcast)."""
    f = f.flatten(2)
    return f.float() if f.dtype in _LOW_PRECISION else f


def _no_autocast(device: torch.device) -> torch.autocast:
    return torch.autocast(device_type=device.type, enabled=False)


def normalize_positions(f: Tensor) -> Tensor:
    """B×C×H×W (or B×C×N) → B×C×N with each position's C-vector divided by ``max(norm, EPS)``."""
    flat = f.flatten(2)
    return flat / flat.norm(dim=1, keepdim=True).clamp_min(EPS)


def _chunks(n: int, batch: int, channels: int) -> Iterator[slice]:
    step = max(1, _CHUNK_ELEMENTS // max(1, batch * channels))
    for start in range(0, n, step):
        yield slice(start, min(n, start + step))


def _unit64(x: Tensor, sl: slice, inv_norm: Tensor) -> Tensor:
    """Chunk ``sl`` of raw B×C×N ``x`` as normalised float64 (``inv_norm`` is B×N float64)."""
    return x[..., sl].to(torch.float64, copy=True).mul_(inv_norm[:, None, sl])


def _gram(x: Tensor, y: Tensor) -> Tensor:
    return torch.bmm(x, y.transpose(1, 2))


def _inner(p: Tensor, q: Tensor) -> Tensor:
    """Per-item Frobenius inner product of two B×C×C' stacks → B."""
    return (p * q).sum(dim=(1, 2))


class _CorrelationDistance(torch.autograd.Function):
    """Mean over the batch of ``‖A₁ᵀA₂ − B₁ᵀB₂‖²_F / N²`` on position-normalised maps.

    Inputs are raw B×C×N maps; ``a2``/``b2`` are None for self-correlation (A₂ = A₁, B₂ = B₁).
    The backward pass recomputes the normalised chunks instead of storing them.
    """

    @staticmethod
    def forward(ctx, a1: Tensor, b1: Tensor, a2: Tensor | None, b2: Tensor | None) -> Tensor:
        is_self = a2 is None
        maps = (a1, b1) if is_self else (a1, b1, a2, b2)
        batch, n = a1.shape[0], a1.shape[-1]
        with _no_autocast(a1.device):
            inv = [a1.new_empty((batch, n), dtype=torch.float64) for _ in maps]
            widest = max(x.shape[1] for x in maps)
            grams: dict[str, Tensor] = {}
            for sl in _chunks(n, batch, widest):
                for x, s in zip(maps, inv, strict=True):
                    s[:, sl] = torch.linalg.vector_norm(x[..., sl], dim=1, dtype=torch.float64)
                    s[:, sl] = s[:, sl].clamp_min(EPS).reciprocal()
                unit = [_unit64(x, sl, s) for x, s in zip(maps, inv, strict=True)]
                pairs = {"p1": (0, 0), "q1": (1, 1), "r1": (0, 1)}
                if not is_self:
                    pairs |= {"p2": (2, 2), "q2": (3, 3), "r2": (2, 3)}
                for key, (i, j) in pairs.items():
                    g = _gram(unit[i], unit[j])
                    grams[key] = grams[key] + g if key in grams else g
            if is_self:
                grams |= {"p2": grams["p1"], "q2": grams["q1"], "r2": grams["r1"]}
            per_item = (
                _inner(grams["p1"], grams["p2"])
                - 2.0 * _inner(grams["r1"], grams["r2"])
                + _inner(grams["q1"], grams["q2"])
            )
            # Rounding can leave a tiny negative value where student == teacher: clamp at 0.
            positive = per_item > 0
            loss = (per_item.clamp_min(0.0) / float(n) ** 2).mean()
        ctx.is_self = is_self
        ctx.save_for_backward(
            *maps, *inv, *(grams[k] for k in ("p1", "q1", "r1", "p2", "q2", "r2"))
        )
        ctx.positive = positive
        return loss.to(torch.promote_types(a1.dtype, b1.dtype))

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        saved = ctx.saved_tensors
        count = 2 if ctx.is_self else 4
        maps, inv = saved[:count], saved[count : 2 * count]
        p1, q1, r1, p2, q2, r2 = saved[2 * count :]
        batch, n = maps[0].shape[0], maps[0].shape[-1]
        # d/dÂ₁ = 2(P₂Â₁ − R₂B̂₁), d/dB̂₁ = 2(Q₂B̂₁ − R₂ᵀÂ₁), symmetric for date 2; ×2 when self.
        factor = 4.0 if ctx.is_self else 2.0
        scale = grad_out.double() * factor * ctx.positive.double() / (batch * float(n) ** 2)
        scale = scale[:, None, None]
        # For each map: (own Gram, partner Gram, index of partner, partner on the left?)
        plans = [(p2, r2, 1, False), (q2, r2, 0, True)]
        if not ctx.is_self:
            plans += [(p1, r1, 3, False), (q1, r1, 2, True)]
        grads = [
            torch.empty_like(x) if ctx.needs_input_grad[k] else None
            for k, x in zip((0, 1, 2, 3), maps, strict=False)
        ]
        with _no_autocast(maps[0].device):
            widest = max(x.shape[1] for x in maps)
            for sl in _chunks(n, batch, widest):
                unit = [_unit64(x, sl, s) for x, s in zip(maps, inv, strict=True)]
                for k, (own, mixed, partner, transpose) in enumerate(plans):
                    if grads[k] is None:
                        continue
                    mixed = mixed.transpose(1, 2) if transpose else mixed
                    g_unit = torch.bmm(own, unit[k]).sub_(torch.bmm(mixed, unit[partner]))
                    g_unit.mul_(scale)
                    grads[k][..., sl] = _normalize_backward(unit[k], g_unit, inv[k][:, None, sl])
        return (*grads, *([None] * (4 - len(grads))))


def _normalize_backward(unit: Tensor, g_unit: Tensor, inv_norm: Tensor) -> Tensor:
    """Gradient through ``x / max(‖x‖, EPS)`` given the unit vectors and their gradient.

    Overwrites and returns ``g_unit``.
    """
    radial = (unit * g_unit).sum(dim=1, keepdim=True)
    # Below EPS the divisor is the constant EPS, so there is no radial term.
    radial = torch.where(inv_norm < 1.0 / EPS, radial, torch.zeros_like(radial))
    return g_unit.addcmul_(unit, radial, value=-1.0).mul_(inv_norm)


def self_correlation_loss(f_s: Tensor, f_t: Tensor) -> Tensor:
    """``‖S(Fˢ) − S(Fᵗ)‖²_F / N²`` averaged over the batch, without building N×N matrices.

    Args:
        f_s: student features, B×C_s×H×W.
        f_t: teacher features, B×C_t×H×W (same B, H, W; C may differ).

    Returns:
        A scalar tensor (float32, or float64 for float64 inputs), always ≥ 0.
    """
    _check_maps("self_correlation_loss", f_s, f_t)
    _check_pair("self_correlation_loss", f_s, f_t)
    return _CorrelationDistance.apply(_working(f_s), _working(f_t), None, None)


def cross_correlation_loss(f1_s: Tensor, f2_s: Tensor, f1_t: Tensor, f2_t: Tensor) -> Tensor:
    """``‖X(F₁ˢ, F₂ˢ) − X(F₁ᵗ, F₂ᵗ)‖²_F / N²`` averaged over the batch, ``X(F₁, F₂) = F̂₁ᵀF̂₂``.

    Args:
        f1_s, f2_s: student features of dates 1 and 2, B×C_s×H×W each.
        f1_t, f2_t: teacher features of dates 1 and 2, B×C_t×H×W each.

    Returns:
        A scalar tensor (float32, or float64 for float64 inputs), always ≥ 0.
    """
    name = "cross_correlation_loss"
    _check_maps(name, f1_s, f2_s, f1_t, f2_t)
    _check_pair(name, f1_s, f2_s)
    _check_pair(name, f1_t, f2_t)
    _check_pair(name, f1_s, f1_t)
    if f1_s.shape[1] != f2_s.shape[1] or f1_t.shape[1] != f2_t.shape[1]:
        raise ConfigError(
            f"{name}: the two dates of one model must have the same channels, got student "
            f"{tuple(f1_s.shape)} / {tuple(f2_s.shape)}, teacher {tuple(f1_t.shape)} / "
            f"{tuple(f2_t.shape)}"
        )
    return _CorrelationDistance.apply(
        _working(f1_s), _working(f1_t), _working(f2_s), _working(f2_t)
    )


def _global_matrix(f: Tensor) -> Tensor:
    mean = _working(f).mean(dim=-1).double()
    unit = mean / mean.norm(dim=1, keepdim=True).clamp_min(EPS)
    return unit @ unit.T


def global_correlation_loss(g_s: Tensor, g_t: Tensor) -> Tensor:
    """``‖Gˢ − Gᵗ‖²_F / M²`` over the M = B images of the batch, ``Gᵢⱼ = gᵢ·gⱼ``.

    ``gᵢ`` is the L2-normalised spatial mean of image i's features. Student and teacher must share
    the batch size; channels and (since only the spatial mean is used) H×W may differ.
    Concatenate along the batch to correlate several sets together (e.g. both dates).
    """
    name = "global_correlation_loss"
    _check_maps(name, g_s, g_t)
    _check_pair(name, g_s, g_t, spatial=False)
    with _no_autocast(g_s.device):
        diff = _global_matrix(g_s) - _global_matrix(g_t)
        loss = diff.square().sum() / float(g_s.shape[0]) ** 2
    return loss.to(torch.promote_types(_working(g_s).dtype, _working(g_t).dtype))


def naive_self_correlation_loss(f_s: Tensor, f_t: Tensor) -> Tensor:
    """Reference :func:`self_correlation_loss` that materialises the N×N matrices."""
    _check_maps("naive_self_correlation_loss", f_s, f_t)
    _check_pair("naive_self_correlation_loss", f_s, f_t)
    a, b = normalize_positions(_working(f_s)), normalize_positions(_working(f_t))
    diff = a.transpose(1, 2) @ a - b.transpose(1, 2) @ b
    return diff.square().sum(dim=(1, 2)).mean() / float(a.shape[-1]) ** 2


def naive_cross_correlation_loss(f1_s: Tensor, f2_s: Tensor, f1_t: Tensor, f2_t: Tensor) -> Tensor:
    """Reference :func:`cross_correlation_loss` that materialises the N×N matrices."""
    _check_maps("naive_cross_correlation_loss", f1_s, f2_s, f1_t, f2_t)
    _check_pair("naive_cross_correlation_loss", f1_s, f1_t)
    a1, a2, b1, b2 = (normalize_positions(_working(f)) for f in (f1_s, f2_s, f1_t, f2_t))
    diff = a1.transpose(1, 2) @ a2 - b1.transpose(1, 2) @ b2
    return diff.square().sum(dim=(1, 2)).mean() / float(a1.shape[-1]) ** 2


def naive_global_correlation_loss(g_s: Tensor, g_t: Tensor) -> Tensor:
    """Reference :func:`global_correlation_loss` computed in the inputs' precision."""

    def matrix(f: Tensor) -> Tensor:
        unit = torch.nn.functional.normalize(_working(f).mean(dim=-1), dim=1, eps=EPS)
        return unit @ unit.T

    return (matrix(g_s) - matrix(g_t)).square().sum() / float(g_s.shape[0]) ** 2
