"""An independent check of the public correlation losses against the issues' definitions,
written literally in NumPy float64 (N×N matrices, explicit loops over the batch), uncentred and
centred."""

import numpy as np
import pytest
import torch

from hicd.distillation.correlation import (
    cross_correlation_loss,
    global_correlation_loss,
    self_correlation_loss,
)


def unit_positions(feature: np.ndarray, centered: bool = False) -> np.ndarray:
    """C×H×W → C×N with each position's C-vector L2-normalised (eps 1e-6); ``centered`` first
    subtracts each channel's mean over the positions."""
    flat = feature.reshape(feature.shape[0], -1)
    if centered:
        flat = flat - flat.mean(axis=1, keepdims=True)
    return flat / np.maximum(np.linalg.norm(flat, axis=0, keepdims=True), 1e-6)


def self_definition(f_s: np.ndarray, f_t: np.ndarray, centered: bool = False) -> float:
    losses = []
    for s, t in zip(f_s, f_t, strict=True):
        a, b = unit_positions(s, centered), unit_positions(t, centered)
        n = a.shape[1]
        losses.append(np.sum((a.T @ a - b.T @ b) ** 2) / n**2)
    return float(np.mean(losses))


def cross_definition(f1_s, f2_s, f1_t, f2_t, centered: bool = False) -> float:
    losses = []
    for a1, a2, b1, b2 in zip(f1_s, f2_s, f1_t, f2_t, strict=True):
        x_s = unit_positions(a1, centered).T @ unit_positions(a2, centered)
        x_t = unit_positions(b1, centered).T @ unit_positions(b2, centered)
        losses.append(np.sum((x_s - x_t) ** 2) / x_s.shape[0] ** 2)
    return float(np.mean(losses))


def global_definition(g_s: np.ndarray, g_t: np.ndarray, centered: bool = False) -> float:
    def matrix(features: np.ndarray) -> np.ndarray:
        means = features.reshape(features.shape[0], features.shape[1], -1).mean(axis=2)
        if centered:
            means = means - means.mean(axis=0, keepdims=True)
        units = means / np.linalg.norm(means, axis=1, keepdims=True)
        return units @ units.T

    m = g_s.shape[0]
    return float(np.sum((matrix(g_s) - matrix(g_t)) ** 2) / m**2)


@pytest.mark.parametrize("centered", [False, True], ids=["uncentred", "centred"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["fp32", "fp64"])
@pytest.mark.parametrize(("c_s", "c_t", "h", "w"), [(8, 8, 5, 7), (6, 11, 4, 9), (16, 4, 3, 3)])
def test_public_losses_follow_the_definitions(c_s, c_t, h, w, dtype, centered) -> None:
    rng = np.random.default_rng(c_s * 100 + c_t)
    # Post-ReLU-like maps with a common offset: what centring is for.
    f1_s, f2_s = np.maximum(rng.normal(size=(2, 3, c_s, h, w)), 0) + 0.5
    f1_t, f2_t = np.maximum(rng.normal(size=(2, 3, c_t, h, w)), 0) + 0.5
    as_torch = [torch.from_numpy(x).to(dtype) for x in (f1_s, f2_s, f1_t, f2_t)]
    got_self = float(self_correlation_loss(as_torch[0], as_torch[2], centered=centered))
    got_cross = float(cross_correlation_loss(*as_torch, centered=centered))
    got_global = float(global_correlation_loss(as_torch[0], as_torch[2], centered=centered))
    want = {
        "self": self_definition(f1_s, f1_t, centered),
        "cross": cross_definition(f1_s, f2_s, f1_t, f2_t, centered),
        "global": global_definition(f1_s, f1_t, centered),
    }
    assert got_self == pytest.approx(want["self"], rel=1e-5)
    assert got_cross == pytest.approx(want["cross"], rel=1e-5)
    assert got_global == pytest.approx(want["global"], rel=1e-5)
