"""Efficient correlation losses against the naive N×N reference, by value and by gradient."""

from __future__ import annotations

import math

import pytest
import torch

from hicd.distillation import correlation
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
    monkeypatch.setattr(correlation, "_CHUNK_ELEMENTS", 7)  # chunks of 1 position
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


def test_gradcheck_self_and_cross():
    f = [_maps(2, 3, 2, 3, s).double().requires_grad_() for s in range(4)]
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
