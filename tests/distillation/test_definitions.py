"""An independent check of the public correlation losses against the issue's definitions,
written literally in NumPy float64 (N×N matrices, explicit loops over the batch)."""

import numpy as np
import pytest
import torch

from hicd.distillation.correlation import (
    cross_correlation_loss,
    global_correlation_loss,
    self_correlation_loss,
)


def unit_positions(feature: np.ndarray) -> np.ndarray:
    """C×H×W → C×N with each position's C-vector L2-normalised (eps 1e-6)."""
    flat = feature.reshape(feature.shape[0], -1)
    return flat / np.maximum(np.linalg.norm(flat, axis=0, keepdims=True), 1e-6)


def self_definition(f_s: np.ndarray, f_t: np.ndarray) -> float:
    losses = []
    for s, t in zip(f_s, f_t, strict=True):
        a, b = unit_positions(s), unit_positions(t)
        n = a.shape[1]
        losses.append(np.sum((a.T @ a - b.T @ b) ** 2) / n**2)
    return float(np.mean(losses))


def cross_definition(f1_s, f2_s, f1_t, f2_t) -> float:
    losses = []
    for a1, a2, b1, b2 in zip(f1_s, f2_s, f1_t, f2_t, strict=True):
        x_s = unit_positions(a1).T @ unit_positions(a2)
        x_t = unit_positions(b1).T @ unit_positions(b2)
        losses.append(np.sum((x_s - x_t) ** 2) / x_s.shape[0] ** 2)
    return float(np.mean(losses))


def global_definition(g_s: np.ndarray, g_t: np.ndarray) -> float:
    def matrix(features: np.ndarray) -> np.ndarray:
        means = features.reshape(features.shape[0], features.shape[1], -1).mean(axis=2)
        units = means / np.linalg.norm(means, axis=1, keepdims=True)
        return units @ units.T

    m = g_s.shape[0]
    return float(np.sum((matrix(g_s) - matrix(g_t)) ** 2) / m**2)


@pytest.mark.parametrize(("c_s", "c_t", "h", "w"), [(8, 8, 5, 7), (6, 11, 4, 9), (16, 4, 3, 3)])
def test_public_losses_follow_the_definitions(c_s, c_t, h, w) -> None:
    rng = np.random.default_rng(c_s * 100 + c_t)
    f1_s, f2_s = rng.normal(size=(2, 3, c_s, h, w))
    f1_t, f2_t = rng.normal(size=(2, 3, c_t, h, w))
    as_torch = [torch.from_numpy(x).float() for x in (f1_s, f2_s, f1_t, f2_t)]
    got_self = float(self_correlation_loss(as_torch[0], as_torch[2]))
    got_cross = float(cross_correlation_loss(*as_torch))
    got_global = float(global_correlation_loss(as_torch[0], as_torch[2]))
    assert got_self == pytest.approx(self_definition(f1_s, f1_t), rel=1e-5)
    assert got_cross == pytest.approx(cross_definition(f1_s, f2_s, f1_t, f2_t), rel=1e-5)
    assert got_global == pytest.approx(global_definition(f1_s, f1_t), rel=1e-5)
