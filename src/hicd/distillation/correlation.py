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

With the normalised student maps Âₖ and teacher maps B̂ₖ (k = date), ``‖Â₁ᵀÂ₂ − B̂₁ᵀB̂₂‖²_F``
is a sum of Frobenius inner products of the Gram blocks of ``Yₖ = [Âₖ; Dₖ]``, ``Dₖ = Âₖ − B̂ₖ``
(equal channels) or ``Yₖ = [Âₖ; B̂ₖ]`` (differing channels): cost O(C²·N), no N×N matrix, and
positions processed in blocks. With Dₖ every term is proportional to the student/teacher
difference, so float32 stays accurate close to the teacher. An error estimate sends the rare
cases it cannot handle to float64 norms, float64 Grams, or the N×N difference itself (small N);
differing channels use float64 Grams. Where N ≤ C the N×N difference is cheaper and is used
directly, in float64. The ``naive_*`` functions materialise the N×N matrices; they are the
reference for tests and benchmarks. See docs/distillation.md for the derivation.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from hicd.errors import DataError

EPS = 1e-6
"""Floor of the per-position norm in the L2 normalisation."""

_BLOCK_BYTES = 4 << 20
"""Largest stacked block (items × (C_s+C_t) × positions) processed at once."""

_KEEP_BYTES = 16 << 20
"""Stacks up to this size in all are kept for the backward pass, bigger ones recomputed."""

_TOLERANCE = 1e-5
"""Largest estimated relative error of a result before it is recomputed in higher precision."""

_UNIT_ROUNDOFF = 2.0**-24
_LOW_PRECISION = (torch.float16, torch.bfloat16)

Block = tuple[slice, slice]
"""(items, positions) of the maps processed together."""


@dataclass(frozen=True)
class _Precision:
    """Dtypes of one attempt: ``gram`` for stacks, Grams and products, ``norms`` for the
    per-position norms (float64 norms make D = Â − B̂ exact to its own precision); ``spatial``
    for the N×N difference instead of Grams."""

    gram: torch.dtype
    norms: torch.dtype
    spatial: bool = False


_FAST = _Precision(torch.float32, torch.float32)
_EXACT_DIFFERENCE = _Precision(torch.float32, torch.float64)
_DOUBLE = _Precision(torch.float64, torch.float64)
_SPATIAL = _Precision(torch.float64, torch.float64, spatial=True)


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


def _no_autocast(device: torch.device) -> torch.autocast:
    return torch.autocast(device_type=device.type, enabled=False)


def normalize_positions(f: Tensor) -> Tensor:
    """B×C×H×W (or B×C×N) → B×C×N with each position's C-vector divided by ``max(norm, EPS)``."""
    flat = f.flatten(2)
    return flat / flat.norm(dim=1, keepdim=True).clamp_min(EPS)


def _norms(x: Tensor, dtype: torch.dtype) -> Tensor:
    """B×1×N per-position norms of B×C×N ``x`` in ``dtype``, floored at EPS."""
    if x.dtype != dtype:
        return torch.linalg.vector_norm(x, dim=1, keepdim=True, dtype=dtype).clamp_min_(EPS)
    return (x * x).sum(dim=1, keepdim=True).sqrt_().clamp_min_(EPS)  # faster than vector_norm


def _blocks(batch: int, rows: int, n: int, itemsize: int, whole_positions: bool) -> list[Block]:
    """Blocks of at most ``_BLOCK_BYTES`` of stacked rows (at least one item, or one position)."""
    budget = max(1, _BLOCK_BYTES // (itemsize * rows))  # positions × items per block
    if whole_positions or n <= budget:
        items = max(1, budget // n)
        return [(slice(b, b + items), slice(None)) for b in range(0, batch, items)]
    return [
        (slice(b, b + 1), slice(p, p + budget)) for b in range(batch) for p in range(0, n, budget)
    ]


@dataclass(frozen=True)
class _Layout:
    """How a pair of normalised maps Â (C_s×n, student) and B̂ (C_t×n, teacher) is stacked into Y.

    ``paired`` (C_s = C_t): Y = [Â; D] with D = Â − B̂, since
    Â₁ᵀÂ₂ − B̂₁ᵀB̂₂ = Â₁ᵀD₂ + D₁ᵀÂ₂ − D₁ᵀD₂ (every term proportional to D). Otherwise Y = [Â; B̂].
    The Gram matrix G = YYᵀ has blocks P (top left), X (top right) and Q (bottom right).
    """

    split: int
    paired: bool

    def halves(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return x[:, : self.split], x[:, self.split :]

    def blocks(self, gram: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        s = self.split
        return gram[:, :s, :s], gram[:, :s, s:], gram[:, s:, s:]

    def stack(self, xa: Tensor, xb: Tensor, na: Tensor, nb: Tensor, dtype: torch.dtype) -> Tensor:
        """Y of raw B×C×n blocks ``xa``, ``xb`` with norms ``na``, ``nb`` (B×1×n, in ``dtype``)."""
        y = xa.new_empty((xa.shape[0], xa.shape[1] + xb.shape[1], xa.shape[2]), dtype=dtype)
        top, bottom = self.halves(y)
        inv_a = na.reciprocal()
        torch.mul(xa, inv_a, out=top)
        if self.paired:
            # D = (xa − xb·‖xa‖/‖xb‖)/‖xa‖ is rounded once in dtype, relative to D itself.
            torch.addcmul(xa, xb, na / nb, value=-1.0, out=bottom).mul_(inv_a)
        else:
            torch.mul(xb, nb.reciprocal(), out=bottom)
        return y

    def unit(self, y: Tensor, side: int) -> Tensor:
        """Â (side 0) or B̂ (side 1) of a stack."""
        top, bottom = self.halves(y)
        if side == 0:
            return top
        return top - bottom if self.paired else bottom

    def terms(self, g1: Tensor, g2: Tensor) -> list[tuple[float, Tensor, Tensor]]:
        """``‖Â₁ᵀÂ₂ − B̂₁ᵀB̂₂‖²_F = Σ c·⟨U, V⟩`` over the returned (c, U, V)."""
        p1, x1, q1 = self.blocks(g1)
        p2, x2, q2 = self.blocks(g2)
        if not self.paired:  # P = ÂÂᵀ, X = ÂB̂ᵀ, Q = B̂B̂ᵀ
            return [(1.0, p1, p2), (-2.0, x1, x2), (1.0, q1, q2)]
        if g1 is g2:
            return [(2.0, p1, q1), (2.0, x1.mT, x1), (-4.0, x1, q1), (1.0, q1, q1)]
        return [
            *[(1.0, q1, p2), (1.0, p1, q2), (2.0, x1.mT, x2)],
            *[(-2.0, q1, x2), (-2.0, x1, q2), (1.0, q1, q2)],
        ]

    def left(self, gram: Tensor, side: int) -> Tensor:
        """L with ∂‖Â₁ᵀÂ₂ − B̂₁ᵀB̂₂‖²_F / ∂(side 0: Â₁, 1: B̂₁) = 2·L·Y₁, given G₂ (C_side×rows)."""
        p, x, q = self.blocks(gram)
        if not self.paired:
            return torch.cat([p, -x] if side == 0 else [-x.mT, q], dim=2)
        if side == 0:
            return torch.cat([x, p - x], dim=2)
        return torch.cat([q - x, x + x.mT - p - q], dim=2)


def _normalize_backward_(unit: Tensor, g_unit: Tensor, norm: Tensor) -> Tensor:
    """Gradient through ``x / max(‖x‖, EPS)`` given the unit vectors' gradient, in place."""
    radial = (unit * g_unit).sum(dim=1, keepdim=True)
    # Below EPS the divisor is the constant EPS, so there is no radial term.
    radial.masked_fill_(norm <= EPS, 0.0)
    return g_unit.addcmul_(unit, radial, value=-1.0).div_(norm.to(g_unit.dtype))


class _Distance:
    """Per-item ``‖Â₁ᵀÂ₂ − B̂₁ᵀB̂₂‖²_F`` of one call in one precision, and its gradient.

    ``maps`` are the raw B×C×N maps (student, teacher) of date 1, then of date 2 for
    cross-correlation; a self-correlation call has only date 1 (Â₂ = Â₁, B̂₂ = B̂₁). ``means``
    (B×C×1, float64, one per map) are subtracted from each block as it is read (centred
    correlations), in float64, so the centred maps are never rounded before their difference.
    """

    whole_positions = False

    def __init__(
        self, maps: Sequence[Tensor], precision: _Precision, means: Sequence[Tensor] | None
    ) -> None:
        self.precision = precision
        self.means = means
        self.dtype = precision.gram
        self.pairs = len(maps) // 2
        self.batch, self.n = maps[0].shape[0], maps[0].shape[-1]
        rows = maps[0].shape[1] + maps[1].shape[1]
        itemsize = torch.finfo(self.dtype).bits // 8
        self.blocks = _blocks(self.batch, rows, self.n, itemsize, self.whole_positions)
        self.norms = [x.new_empty((self.batch, 1, self.n), dtype=precision.norms) for x in maps]
        for items, positions in self.blocks:  # by block, to keep the temporaries small
            for i, norms in enumerate(self.norms):
                norms[items, :, positions] = _norms(
                    self.read(maps, i, items, positions), precision.norms
                )

    def read(self, maps: Sequence[Tensor], i: int, items: slice, positions: slice) -> Tensor:
        """Block (items, positions) of map ``i``, centred if ``means`` are given: in float64
        where the norms are, else rounded back to the map's dtype."""
        x = maps[i][items, :, positions]
        if self.means is None:
            return x
        centred = x.to(torch.float64) - self.means[i][items]
        return centred if self.precision.norms == torch.float64 else centred.to(x.dtype)

    def forward(self, maps: Sequence[Tensor]) -> Tensor:
        """Per-item squared Frobenius norms of the difference of correlation matrices (B)."""
        raise NotImplementedError

    def refine(self, values: Tensor) -> _Precision | None:
        """None if ``values`` from :meth:`forward` are within ``_TOLERANCE`` (relative), else the
        precision to recompute them with."""
        return None

    def unit_gradients(
        self, maps: Sequence[Tensor], index: int, coef: Tensor, needs: Sequence[bool]
    ) -> Iterator[tuple[int, Tensor, Tensor]]:
        """(map index, its unit vectors, their gradient) on block ``index`` for the maps in
        ``needs``."""
        raise NotImplementedError

    def backward(
        self, maps: Sequence[Tensor], coef: Tensor, needs: Sequence[bool]
    ) -> list[Tensor | None]:
        """Input gradients, given ``coef`` = ∂loss/∂(per-item value) as B×1×1."""
        grads: list[Tensor | None] = [None] * len(maps)
        for index, (items, positions) in enumerate(self.blocks):
            for i, unit, g_unit in self.unit_gradients(maps, index, coef, needs):
                g = _normalize_backward_(unit, g_unit, self.norms[i][items, :, positions])
                if len(self.blocks) == 1:
                    grads[i] = g.to(maps[i].dtype)
                    continue
                if grads[i] is None:
                    grads[i] = torch.empty_like(maps[i])
                grads[i][items, :, positions] = g
        return grads


class _GramDistance(_Distance):
    """Sums of Gram-block inner products, the Grams accumulated over blocks of positions.

    Cost O(C²·N); the stacks are kept for the backward pass when they are small.
    """

    def __init__(
        self, maps: Sequence[Tensor], precision: _Precision, means: Sequence[Tensor] | None
    ) -> None:
        super().__init__(maps, precision, means)
        channels = maps[0].shape[1]
        self.layout = _Layout(channels, paired=channels == maps[1].shape[1])
        self.kept: list[list[Tensor]] | None = None

    def stacks(self, maps: Sequence[Tensor], block: Block) -> list[Tensor]:
        items, positions = block
        return [
            self.layout.stack(
                *(self.read(maps, i, items, positions) for i in (2 * k, 2 * k + 1)),
                *(s[items, :, positions] for s in self.norms[2 * k : 2 * k + 2]),
                self.dtype,
            )
            for k in range(self.pairs)
        ]

    def forward(self, maps: Sequence[Tensor]) -> Tensor:
        rows = maps[0].shape[1] + maps[1].shape[1]
        size = self.pairs * self.batch * rows * self.n * torch.finfo(self.dtype).bits // 8
        self.kept = [] if size <= _KEEP_BYTES else None
        self.grams = [
            maps[0].new_zeros((self.batch, rows, rows), dtype=self.dtype) for _ in range(self.pairs)
        ]
        for block in self.blocks:
            ys = self.stacks(maps, block)
            for gram, y in zip(self.grams, ys, strict=True):
                gram[block[0]].baddbmm_(y, y.transpose(1, 2))
            if self.kept is not None:
                self.kept.append(ys)
        values = maps[0].new_zeros(self.batch, dtype=self.dtype)
        self.bound = torch.zeros_like(values)
        for c, u, v in self.layout.terms(self.grams[0], self.grams[-1]):
            product = u * v
            values = values + c * product.sum(dim=(1, 2))
            self.bound = self.bound + abs(c) * product.abs().sum(dim=(1, 2))
        return values

    def refine(self, values: Tensor) -> _Precision | None:
        # Rounding the Grams costs up to about 2u·Σ|terms|; rounding D relative to Â, not to D
        # (float32 norms), about 4u/rms(D) of the result.
        tolerance = _TOLERANCE * values
        from_grams = torch.finfo(self.dtype).eps * self.bound
        from_d = torch.zeros_like(values)
        if self.precision.norms == torch.float32:
            split = self.layout.split
            d_energy = [g[:, split:, split:].diagonal(dim1=1, dim2=2).sum(-1) for g in self.grams]
            rms_d = (torch.stack(d_energy) / self.n).sqrt()
            worst = torch.where(rms_d > 0, rms_d.reciprocal(), 0.0).amax(0)
            from_d = _UNIT_ROUNDOFF * 4.0 * values.abs() * worst
        checks = [(from_grams > tolerance).any(), (from_grams + from_d > tolerance).any()]
        grams_inexact, inexact = torch.stack(checks).tolist()  # one device sync
        if not grams_inexact:
            return _EXACT_DIFFERENCE if inexact else None
        if self.precision != _DOUBLE:
            return _DOUBLE
        # Even float64 Grams cancel too much (a near-perfect match up to a rotation): use the
        # N×N difference itself where it is small enough.
        return _SPATIAL if self.n**2 * 8 <= _KEEP_BYTES else None

    def unit_gradients(self, maps, index, coef, needs):
        # ∂/∂Y₁ uses G₂ and ∂/∂Y₂ uses G₁; self-correlation doubles its factor (in ``coef``).
        items = self.blocks[index][0]
        ys = self.kept[index] if self.kept is not None else self.stacks(maps, self.blocks[index])
        for k, (y, partner) in enumerate(zip(ys, self.grams[::-1], strict=True)):
            sides = [side for side in (0, 1) if needs[2 * k + side]]
            if not sides:
                continue
            left = torch.cat([self.layout.left(partner[items], side) for side in sides], dim=1)
            g_units = torch.bmm(left * coef[items], y)
            for side, g_unit in zip(
                sides, g_units.split([maps[2 * k + s].shape[1] for s in sides], dim=1), strict=True
            ):
                yield 2 * k + side, self.layout.unit(y, side), g_unit


class _SpatialDistance(_Distance):
    """The N×N difference E = Â₁ᵀÂ₂ − B̂₁ᵀB̂₂ itself, in float64, one block of items at a time;
    for N ≤ C, where it is cheaper than the Grams."""

    whole_positions = True

    def units(self, maps: Sequence[Tensor], items: slice) -> list[Tensor]:
        every = slice(None)
        return [
            torch.div(self.read(maps, i, items, every), s[items]) for i, s in enumerate(self.norms)
        ]

    @staticmethod
    def difference(units: list[Tensor]) -> Tensor:
        a1, b1, a2, b2 = units if len(units) == 4 else units * 2
        return torch.baddbmm(a1.mT @ a2, b1.mT, b2, alpha=-1.0)

    def forward(self, maps: Sequence[Tensor]) -> Tensor:
        values = maps[0].new_empty(self.batch, dtype=self.dtype)
        for items, _ in self.blocks:
            values[items] = self.difference(self.units(maps, items)).square().sum(dim=(1, 2))
        return values

    def unit_gradients(self, maps, index, coef, needs):
        # ∂/∂Â₁ = 2·Â₂Eᵀ, ∂/∂B̂₁ = −2·B̂₂Eᵀ, ∂/∂Â₂ = 2·Â₁E, ∂/∂B̂₂ = −2·B̂₁E (E = Eᵀ for self).
        items = self.blocks[index][0]
        units = self.units(maps, items)
        e = self.difference(units) * coef[items]
        partners = [units[2], units[3], units[0], units[1]] if len(units) == 4 else units
        for i, (unit, partner) in enumerate(zip(units, partners, strict=True)):
            if needs[i]:
                side = e.mT if i < 2 else e
                yield i, unit, torch.bmm(partner, side) * (1.0 if i % 2 == 0 else -1.0)


def _distance(
    maps: Sequence[Tensor], precision: _Precision, means: Sequence[Tensor] | None
) -> _Distance:
    """Gram matrices unless N ≤ C; float32 only for equal student/teacher C and no float64 map."""
    a, b = maps[0], maps[1]
    if precision.spatial or a.shape[-1] <= max(a.shape[1], b.shape[1]):
        return _SpatialDistance(maps, _SPATIAL, means)
    if a.shape[1] != b.shape[1] or any(x.dtype == torch.float64 for x in maps):
        precision = _DOUBLE
    return _GramDistance(maps, precision, means)


class _CorrelationDistance(torch.autograd.Function):
    """Mean over the batch of ``‖Â₁ᵀÂ₂ − B̂₁ᵀB̂₂‖²_F / N²`` on position-normalised maps.

    Inputs are raw B×C×N maps; ``a2``/``b2`` are None for self-correlation (Â₂ = Â₁, B̂₂ = B̂₁).
    ``centered`` subtracts each map's per-channel mean over the positions first.
    """

    @staticmethod
    def forward(
        ctx, a1: Tensor, b1: Tensor, a2: Tensor | None, b2: Tensor | None, centered: bool
    ) -> Tensor:
        maps = (a1, b1) if a2 is None else (a1, b1, a2, b2)
        with _no_autocast(a1.device):
            means = [x.mean(-1, keepdim=True, dtype=torch.float64) for x in maps]
            precision: _Precision | None = _FAST
            while precision is not None:
                distance = _distance(maps, precision, means if centered else None)
                values = distance.forward(maps)
                precision = distance.refine(values)
            # Rounding can leave a tiny negative value where student == teacher: clamp at 0.
            positive = values > 0
            loss = (values.clamp_min(0.0) / float(distance.n) ** 2).mean()
        ctx.save_for_backward(*maps)
        ctx.distance = distance
        ctx.positive = positive
        return loss.to(torch.promote_types(a1.dtype, b1.dtype))

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        maps = ctx.saved_tensors
        distance: _Distance = ctx.distance
        factor = 4.0 if len(maps) == 2 else 2.0  # self: Y appears on both sides
        scale = factor / (distance.batch * float(distance.n) ** 2)
        coef = grad_out.to(distance.dtype) * scale * ctx.positive.to(distance.dtype)
        needs = ctx.needs_input_grad[: len(maps)]
        with _no_autocast(maps[0].device):
            grads = distance.backward(maps, coef[:, None, None], needs)
            if distance.means is not None:  # through x − mean(x): subtract the gradient's mean
                grads = [g if g is None else g - g.mean(-1, keepdim=True) for g in grads]
        return (*grads, *([None] * (5 - len(grads))))


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
    return _CorrelationDistance.apply(_working(f_s), _working(f_t), None, None, centered)


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
    return _CorrelationDistance.apply(*maps, centered)


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
    with _no_autocast(g_s.device):
        diff = _global_matrix(g_s, centered) - _global_matrix(g_t, centered)
        loss = diff.square().sum() / float(g_s.shape[0]) ** 2
    return loss.to(torch.promote_types(_working(g_s).dtype, _working(g_t).dtype))


def naive_self_correlation_loss(f_s: Tensor, f_t: Tensor, centered: bool = False) -> Tensor:
    """Reference :func:`self_correlation_loss` that materialises the N×N matrices."""
    _check_maps("naive_self_correlation_loss", f_s, f_t)
    _check_pair("naive_self_correlation_loss", f_s, f_t)
    a, b = (normalize_positions(_working(f, centered)) for f in (f_s, f_t))
    diff = a.transpose(1, 2) @ a - b.transpose(1, 2) @ b
    return diff.square().sum(dim=(1, 2)).mean() / float(a.shape[-1]) ** 2


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


def naive_global_correlation_loss(g_s: Tensor, g_t: Tensor, centered: bool = False) -> Tensor:
    """Reference :func:`global_correlation_loss` computed in the inputs' precision."""

    def matrix(f: Tensor) -> Tensor:
        mean = _working(f).mean(dim=-1)
        if centered:
            mean = mean - mean.mean(dim=0, keepdim=True)
        unit = torch.nn.functional.normalize(mean, dim=1, eps=EPS)
        return unit @ unit.T

    return (matrix(g_s) - matrix(g_t)).square().sum() / float(g_s.shape[0]) ** 2
