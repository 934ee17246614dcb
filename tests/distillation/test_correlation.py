"""Efficient correlation losses against the naive N×N reference, by value and by gradient."""

from __future__ import annotations

import math

import pytest
import torch

from hicd.distillation import _gram
from hicd.distillation.correlation import (
    cross_correlation_loss,
    global_correlation_loss,
    naive_cross_correlation_loss,
    naive_global_correlation_loss,
    naive_self_correlation_loss,
    self_correlation_loss,
)
from hicd.errors import HicdError

# (B, C_student, C_teacher, H, W)
SHAPES = [(1, 4, 4, 3, 5), (2, 8, 12, 5, 7), (3, 16, 6, 9, 9)]


def _maps(b: int, c: int, h: int, w: int, seed: int) -> torch.Tensor:
    return torch.randn(b, c, h, w, generator=torch.Generator().manual_seed(seed))


def _pair_inputs(shape, near: bool = False) -> list[torch.Tensor]:
    """Student/teacher maps for dates 1 and 2: [f1_s, f2_s, f1_t, f2_t] (near: teacher ≈ student)."""
    b, cs, ct, h, w = shape
    f1_s, f2_s = _maps(b, cs, h, w, 1), _maps(b, cs, h, w, 2)
    if near:
        return [
            f1_s,
            f2_s,
            f1_s + 1e-3 * _maps(b, cs, h, w, 3),
            f2_s + 1e-3 * _maps(b, cs, h, w, 4),
        ]
    return [f1_s, f2_s, _maps(b, ct, h, w, 3), _maps(b, ct, h, w, 4)]


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return abs(a.item() - b.item()) / abs(b.item())


@pytest.mark.parametrize("near", [False, True], ids=["random", "near-equal"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_efficient_matches_naive(shape, near):
    f1_s, f2_s, f1_t, f2_t = _pair_inputs(shape, near)
    ref_self = naive_self_correlation_loss(f1_s.double(), f1_t.double())
    ref_cross = naive_cross_correlation_loss(*(f.double() for f in (f1_s, f2_s, f1_t, f2_t)))
    if near:
        assert ref_self.item() < 1e-4  # the tiny-result regime where cancellation would bite
    got_self = self_correlation_loss(f1_s, f1_t)
    got_cross = cross_correlation_loss(f1_s, f2_s, f1_t, f2_t)
    assert got_self.dtype == torch.float32 and got_self.dim() == 0
    assert _rel(got_self, ref_self) < 1e-5
    assert _rel(got_cross, ref_cross) < 1e-5
    assert _rel(self_correlation_loss(f1_s.double(), f1_t.double()), ref_self) < 1e-8


def test_many_chunks_match_naive(monkeypatch):
    monkeypatch.setattr(_gram, "_BLOCK_BYTES", 1)  # blocks of 1 position
    f1_s, f2_s, f1_t, f2_t = (f.double().requires_grad_() for f in _pair_inputs(SHAPES[1]))
    before = f1_s.detach().clone()
    got = cross_correlation_loss(f1_s, f2_s, f1_t, f2_t)
    ref = naive_cross_correlation_loss(f1_s, f2_s, f1_t, f2_t)
    assert _rel(got, ref) < 1e-10
    assert torch.equal(f1_s, before)  # float64 inputs are not normalised in place
    for g, r in zip(
        torch.autograd.grad(got, (f1_s, f2_s)), torch.autograd.grad(ref, (f1_s, f2_s)), strict=True
    ):
        torch.testing.assert_close(g, r, rtol=1e-9, atol=1e-12)


def test_identical_inputs_give_nonnegative_zero():
    f = _maps(2, 32, 9, 9, 0)
    g = f.clone()
    assert 0.0 <= self_correlation_loss(f, g).item() < 1e-12
    assert 0.0 <= cross_correlation_loss(f, g, f.clone(), g.clone()).item() < 1e-12
    assert global_correlation_loss(f, g).item() == 0.0


@pytest.mark.parametrize("shape", SHAPES[1:], ids=str)
def test_gradients_match_naive(shape):
    inputs = _pair_inputs(shape)
    inputs[0][0, :, 1, 2] = 0.0  # a zero vector: the normalisation's EPS branch
    f32 = [f.clone().requires_grad_() for f in inputs]
    f64 = [f.double().requires_grad_() for f in inputs]
    cases = [
        (self_correlation_loss, naive_self_correlation_loss, [0, 2]),
        (cross_correlation_loss, naive_cross_correlation_loss, [0, 1, 2, 3]),
    ]
    for efficient, naive, idx in cases:
        got64 = torch.autograd.grad(efficient(*(f64[i] for i in idx)), [f64[i] for i in idx])
        ref64 = torch.autograd.grad(naive(*(f64[i] for i in idx)), [f64[i] for i in idx])
        got32 = torch.autograd.grad(efficient(*(f32[i] for i in idx)), [f32[i] for i in idx])
        for g64, g32, r in zip(got64, got32, ref64, strict=True):
            torch.testing.assert_close(g64, r, rtol=1e-9, atol=1e-12)
            assert g32.dtype == torch.float32
            torch.testing.assert_close(g32.double(), r, rtol=1e-5, atol=1e-7)


def _rotated(f: torch.Tensor, noise: float, seed: int) -> torch.Tensor:
    """One fixed random channel rotation of ``f`` plus noise: the same correlations up to the
    noise, though the maps differ (the case where only float64 Grams are accurate)."""
    c = f.shape[1]
    q, _ = torch.linalg.qr(torch.randn(c, c, generator=torch.Generator().manual_seed(0)))
    return torch.einsum("kc,bchw->bkhw", q, f) + noise * _maps(*f.shape, seed)


@pytest.fixture
def attempts(monkeypatch) -> list[tuple[str, object]]:
    """(strategy, precision) of every attempt of the correlation losses, in order."""
    used: list[tuple[str, object]] = []
    original = _gram._distance

    def spy(maps, precision, means):
        distance = original(maps, precision, means)
        used.append((type(distance).__name__, distance.precision))
        return distance

    monkeypatch.setattr(_gram, "_distance", spy)
    return used


_C = _gram
PATH_CASES = {
    # name: (student/teacher maker, expected attempts)
    "equal C, float32": (
        lambda f, s: _maps(*f.shape, s),
        [("_GramDistance", _C._FAST)],
    ),
    "near-equal, exact difference": (
        lambda f, s: f + 1e-3 * _maps(*f.shape, s),
        [("_GramDistance", _C._FAST), ("_GramDistance", _C._EXACT_DIFFERENCE)],
    ),
    "rotated, float64 Grams": (
        lambda f, s: _rotated(f, 1e-2, s),
        [("_GramDistance", _C._FAST), ("_GramDistance", _C._DOUBLE)],
    ),
    "differing C, float64": (
        lambda f, s: _maps(f.shape[0], f.shape[1] + 3, *f.shape[2:], s),
        [("_GramDistance", _C._DOUBLE)],
    ),
}


@pytest.mark.parametrize("centered", [False, True], ids=["uncentred", "centred"])
@pytest.mark.parametrize("case", PATH_CASES, ids=str)
@pytest.mark.parametrize("kind", ["self", "cross"])
def test_each_path_matches_naive(case, kind, centered, attempts):
    make_teacher, expected = PATH_CASES[case]
    f1_s, f2_s = _maps(2, 8, 6, 6, 1), _maps(2, 8, 6, 6, 2)
    inputs = [f1_s, f2_s, make_teacher(f1_s, 3), make_teacher(f2_s, 4)]
    idx = [0, 2] if kind == "self" else [0, 1, 2, 3]
    efficient, naive = {
        "self": (self_correlation_loss, naive_self_correlation_loss),
        "cross": (cross_correlation_loss, naive_cross_correlation_loss),
    }[kind]
    f32 = [inputs[i].clone().requires_grad_() for i in idx]
    f64 = [inputs[i].double().requires_grad_() for i in idx]
    got, ref = efficient(*f32, centered=centered), naive(*f64, centered=centered)
    assert attempts == expected
    assert got.dtype == torch.float32
    assert _rel(got, ref) < 1e-5
    for g, r in zip(torch.autograd.grad(got, f32), torch.autograd.grad(ref, f64), strict=True):
        assert g.dtype == torch.float32
        torch.testing.assert_close(g.double(), r, rtol=1e-4, atol=1e-4 * r.abs().max().item())


def test_float64_grams_not_enough_uses_the_difference_itself(attempts):
    """Correlations equal to 1e-11 up to a rotation: even float64 Grams cancel too much."""
    f = _maps(2, 8, 6, 6, 1)
    t = _rotated(f, 1e-6, 3)
    got = self_correlation_loss(f, t)
    ref = naive_self_correlation_loss(f.double(), t.double())
    assert ref.item() < 1e-11
    assert attempts == [
        ("_GramDistance", _C._FAST),
        ("_GramDistance", _C._DOUBLE),
        ("_SpatialDistance", _C._SPATIAL),
    ]
    assert _rel(got, ref) < 1e-5


@pytest.mark.parametrize("channels", [(16, 16), (16, 20), (20, 16)], ids=str)
def test_spatial_path_when_positions_few(channels, attempts):
    """N ≤ C: the N×N difference in float64, student and teacher grads against naive."""
    cs, ct = channels
    f = [_maps(3, c, 3, 4, seed) for seed, c in enumerate((cs, cs, ct, ct))]
    f32 = [x.clone().requires_grad_() for x in f]
    f64 = [x.double().requires_grad_() for x in f]
    for efficient, naive, idx in [
        (self_correlation_loss, naive_self_correlation_loss, [0, 2]),
        (cross_correlation_loss, naive_cross_correlation_loss, [0, 1, 2, 3]),
    ]:
        got = efficient(*(f32[i] for i in idx))
        ref = naive(*(f64[i] for i in idx))
        assert got.dtype == torch.float32 and _rel(got, ref) < 1e-6
        got_grads = torch.autograd.grad(got, [f32[i] for i in idx])
        for g, r in zip(got_grads, torch.autograd.grad(ref, [f64[i] for i in idx]), strict=True):
            torch.testing.assert_close(g.double(), r, rtol=1e-5, atol=1e-8)
    assert {name for name, _ in attempts} == {"_SpatialDistance"}


@pytest.mark.parametrize("keep", [True, False], ids=["kept", "recomputed"])
@pytest.mark.parametrize("size", [(6, 6), (2, 3)], ids=["gram", "spatial"])
def test_blocks_match_one_block(monkeypatch, size, keep):
    """Float32 Grams accumulated over 1-position blocks (or 1-item blocks), with the stacks kept
    or recomputed in backward, give what one block gives."""
    f = [_maps(3, 8, *size, s).requires_grad_() for s in range(4)]

    def run() -> list[torch.Tensor]:
        loss = self_correlation_loss(f[0], f[2]) + cross_correlation_loss(*f)
        return [loss, *torch.autograd.grad(loss, f)]

    whole = run()
    monkeypatch.setattr(_gram, "_BLOCK_BYTES", 1)
    monkeypatch.setattr(_gram, "_KEEP_BYTES", 1 << 30 if keep else 0)
    for got, ref in zip(run(), whole, strict=True):
        torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-7)


def test_channels_last_and_teacher_only_gradient():
    f_s, f_t = _maps(2, 8, 6, 5, 0), _maps(2, 8, 6, 5, 1)
    t64 = f_t.double().requires_grad_()
    ref = naive_self_correlation_loss(f_s.double(), t64)
    (ref_grad,) = torch.autograd.grad(ref, t64)
    t_last = f_t.to(memory_format=torch.channels_last).requires_grad_()
    got = self_correlation_loss(f_s.to(memory_format=torch.channels_last), t_last)
    (grad,) = torch.autograd.grad(got, t_last)
    assert _rel(got, ref) < 1e-5
    torch.testing.assert_close(grad.double(), ref_grad, rtol=1e-4, atol=1e-8)


@pytest.mark.parametrize("size", [(3, 2, 3), (4, 1, 3)], ids=["gram", "spatial"])
def test_gradcheck_self_and_cross(size):
    f = [_maps(2, *size, s).double().requires_grad_() for s in range(4)]
    assert torch.autograd.gradcheck(lambda a, b: self_correlation_loss(a, b), (f[0], f[2]))
    assert torch.autograd.gradcheck(lambda *x: cross_correlation_loss(*x), tuple(f))


def test_global_matches_hand_computed():
    # Student: image 0 all [1, 0], image 1 all [1, 1] → G = [[1, 1/√2], [1/√2, 1]].
    # Teacher: orthogonal images → G = I. Loss = 2·(1/√2)² / 2² = 0.25.
    g_s = torch.tensor([[1.0, 0.0], [1.0, 1.0]])[:, :, None, None].expand(2, 2, 3, 3)
    g_t = torch.tensor([[0.0, 3.0, 0.0], [2.0, 0.0, 0.0]])[:, :, None, None].expand(2, 3, 4, 4)
    assert global_correlation_loss(g_s, g_t).item() == pytest.approx(0.25, rel=1e-6)
    assert naive_global_correlation_loss(g_s, g_t).item() == pytest.approx(0.25, rel=1e-6)


def test_global_matches_naive_and_gradients():
    g_s = _maps(5, 6, 4, 3, 0).requires_grad_()
    g_t = _maps(5, 9, 4, 3, 1)
    got = global_correlation_loss(g_s, g_t)
    ref = naive_global_correlation_loss(g_s.double(), g_t.double())
    assert _rel(got, ref) < 1e-6
    (grad,) = torch.autograd.grad(got, g_s)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_errors_name_both_shapes():
    a, b = torch.zeros(2, 4, 8, 8), torch.zeros(2, 4, 8, 6)
    with pytest.raises(HicdError, match=r"\(2, 4, 8, 8\).*\(2, 4, 8, 6\)"):
        self_correlation_loss(a, b)
    with pytest.raises(HicdError, match="H×W"):
        cross_correlation_loss(a, a, b, b)
    with pytest.raises(HicdError, match="batch"):
        global_correlation_loss(a, torch.zeros(3, 4, 8, 8))
    with pytest.raises(HicdError, match="B×C×H×W"):
        self_correlation_loss(a.flatten(2), a.flatten(2))
    with pytest.raises(HicdError, match="same channels"):
        cross_correlation_loss(a, torch.zeros(2, 5, 8, 8), a, a)


def test_autocast_runs_in_float32():
    f_s, f_t = _maps(2, 8, 6, 6, 0), _maps(2, 8, 6, 6, 1)
    conv = torch.nn.Conv2d(8, 8, 1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        h_s, h_t = conv(f_s), conv(f_t)
        assert h_s.dtype == torch.bfloat16
        losses = [
            self_correlation_loss(h_s, h_t),
            cross_correlation_loss(h_s, h_t, h_t, h_s),
            global_correlation_loss(h_s, h_t),
        ]
    for loss, naive in zip(
        losses,
        [
            naive_self_correlation_loss(h_s.double(), h_t.double()),
            naive_cross_correlation_loss(*(h.double() for h in (h_s, h_t, h_t, h_s))),
            naive_global_correlation_loss(h_s.double(), h_t.double()),
        ],
        strict=True,
    ):
        assert loss.dtype == torch.float32
        assert _rel(loss, naive) < 1e-5
    losses[0].backward()
    assert conv.weight.grad is not None and torch.isfinite(conv.weight.grad).all()


def test_large_maps_forward_backward():
    """B=2, C=256, 64×64: N×N would be 2·4096² floats per matrix; efficient needs O(C²)."""
    f = [_maps(2, 256, 64, 64, s).requires_grad_() for s in range(4)]
    loss = self_correlation_loss(f[0], f[2]) + cross_correlation_loss(*f)
    loss.backward()
    assert math.isfinite(loss.item()) and all(torch.isfinite(x.grad).all() for x in f)


# -- centred correlations ----------------------------------------------------------------------


def _relu_maps(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """Post-ReLU maps with a common positive offset: the saturating case centring is for."""
    return torch.relu(_maps(*shape, seed)) + 0.5


def _max_rel(got: torch.Tensor, ref: torch.Tensor) -> float:
    return ((got.double() - ref).abs().max() / ref.abs().max()).item()


@pytest.mark.parametrize("near", [False, True], ids=["random", "near-equal"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_centred_values_and_gradients_match_naive(shape, near):
    b, cs, ct, h, w = shape
    f1_s, f2_s = _relu_maps((b, cs, h, w), 1), _relu_maps((b, cs, h, w), 2)
    if near:
        f1_t, f2_t = f1_s + 1e-3 * _maps(b, cs, h, w, 3), f2_s + 1e-3 * _maps(b, cs, h, w, 4)
    else:
        f1_t, f2_t = _relu_maps((b, ct, h, w), 3), _relu_maps((b, ct, h, w), 4)
    maps = [f1_s, f2_s, f1_t, f2_t]
    cases = [
        (self_correlation_loss, naive_self_correlation_loss, [0, 2]),
        (cross_correlation_loss, naive_cross_correlation_loss, [0, 1, 2, 3]),
    ]
    if b > 2:  # centred over M ≤ 2 images the global matrices are fixed (±1): loss 0
        cases.append((global_correlation_loss, naive_global_correlation_loss, [0, 2]))
    for efficient, naive, idx in cases:
        f64 = [maps[i].double().requires_grad_() for i in idx]
        f32 = [maps[i].clone().requires_grad_() for i in idx]
        ref = naive(*f64, centered=True)
        ref_grads = torch.autograd.grad(ref, f64)
        for inputs, tol in ((f64, 1e-9), (f32, 1e-5)):
            got = efficient(*inputs, centered=True)
            assert got.dtype == inputs[0].dtype and _rel(got, ref) < tol
            for g, r in zip(torch.autograd.grad(got, inputs), ref_grads, strict=True):
                assert _max_rel(g, r) < tol


def test_centring_removes_a_shared_offset():
    # A map and the same map plus a per-channel constant have equal centred correlations.
    f = _maps(2, 6, 5, 5, 0)
    offset = torch.linspace(1.0, 3.0, 6)[None, :, None, None]
    assert self_correlation_loss(f + offset, f, centered=True).item() < 1e-10
    assert self_correlation_loss(f + offset, f).item() > 1e-2
    g = torch.cat([f, f + 0.1 * _maps(2, 6, 5, 5, 1)])
    shifted = g + offset  # a constant shared by every image of the call
    assert global_correlation_loss(shifted, g, centered=True).item() < 1e-10


@pytest.mark.parametrize("size", [(3, 2, 3), (4, 1, 3)], ids=["gram", "spatial"])
def test_gradcheck_centred(size):
    f = [_maps(2, *size, s).double().requires_grad_() for s in range(4)]
    assert torch.autograd.gradcheck(lambda a, b: self_correlation_loss(a, b, True), (f[0], f[2]))
    assert torch.autograd.gradcheck(lambda *x: cross_correlation_loss(*x, centered=True), tuple(f))
    assert torch.autograd.gradcheck(
        lambda a, b: global_correlation_loss(a, b, centered=True), (f[0], f[2])
    )


def test_uncentred_is_unchanged():
    # Values of hicd 0.1 (before ``centered`` existed) on fixed inputs, and the default is False.
    g = torch.Generator().manual_seed(7)
    a, b, c, d = (torch.relu(torch.randn(2, 6, 5, 7, generator=g)) for _ in range(4))
    expected = [0.16996121406555176, 0.1745980679988861, 0.00034926735679619014]
    calls = [
        lambda **k: self_correlation_loss(a, c, **k),
        lambda **k: cross_correlation_loss(a, b, c, d, **k),
        lambda **k: global_correlation_loss(torch.cat([a, b]), torch.cat([c, d]), **k),
    ]
    for call, value in zip(calls, expected, strict=True):
        assert torch.equal(call(), call(centered=False))
        assert call().item() == pytest.approx(value, rel=1e-6)
