"""Intervals over seeds (Student t) and over evaluation cells (bootstrap of one confusion matrix),
and the per-cell counts that feed the bootstrap."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hicd.evaluation.metrics import cell_counts, scores_from_counts
from hicd.evaluation.runner import evaluate_checkpoints
from hicd.evaluation.statistics import bootstrap_f1, f1_from_counts, t_interval


def test_t_interval_matches_the_textbook_value():
    mean, low, high = t_interval([1.0, 2.0, 3.0, 4.0])
    # mean 2.5, s = 1.2910, t(0.975, 3) = 3.18245 → half-width 2.05426
    assert mean == 2.5
    assert (low, high) == pytest.approx((2.5 - 2.05426, 2.5 + 2.05426), abs=1e-5)
    assert np.isnan(t_interval([1.0])[1])


def test_cell_counts_sum_to_the_image_and_ignore_255():
    g = torch.Generator().manual_seed(0)
    change = (torch.rand(37, 50, generator=g) > 0.5).long()
    target = (torch.rand(37, 50, generator=g) > 0.7).long()
    target[:3] = 255
    cells = cell_counts(change, target, 16)
    assert cells.shape == (3 * 4, 4)  # 37×50 in 16-pixel cells: 3 rows, 4 columns
    valid = target != 255
    tp = int(((change == 1) & (target == 1)).sum())
    assert cells.sum(0).tolist() == [
        tp,
        int(((change == 1) & (target == 0)).sum()),
        int(((change == 0) & (target == 0)).sum()),
        int(((change == 0) & (target == 1)).sum()),
    ]
    assert int(cells.sum()) == int(valid.sum())
    with pytest.raises(ValueError, match="cell"):
        cell_counts(change, target, 0)


def test_bootstrap_is_one_confusion_matrix_per_resample():
    rng = np.random.default_rng(0)
    runs = rng.integers(0, 50, (3, 12, 4))
    value, low, high = bootstrap_f1(runs, resamples=2000)
    pooled = [float(scores_from_counts(*map(torch.tensor, r.sum(0)))["f1"]) for r in runs]
    assert value == pytest.approx(np.mean(pooled))  # F1 of summed counts, not of cell F1s
    assert low < value < high
    # Identical runs differ by exactly 0 in every resample; a better model is above 0.
    assert bootstrap_f1(runs, runs, resamples=500) == (0.0, 0.0, 0.0)
    better = runs.copy()
    better[..., 0] += 30  # more true positives in every cell
    diff, low, _ = bootstrap_f1(better, runs, resamples=500)
    assert diff > 0 and low > 0
    with pytest.raises(ValueError, match="cells"):
        bootstrap_f1(runs[:, :, :3])


def test_evaluate_returns_cells_that_sum_to_the_global_counts(checkpoints, dataset):
    rows = evaluate_checkpoints(
        checkpoints, dataset, settings="clean,multi-x4", progress=False, cell=32
    )
    for row in rows:
        counts = np.asarray(row["cells"]).sum(0)
        f1 = float(scores_from_counts(*map(torch.tensor, counts))["f1"])
        assert f1 == pytest.approx(row["f1"])
        assert len(row["cells"]) == 3 * 2 * 3  # 3 pairs of 64×80 in 32-pixel cells


def test_f1_from_counts_matches_the_metrics_and_is_vectorised():
    counts = np.array([[[2, 3, 10, 4], [0, 0, 9, 0]], [[5, 0, 1, 5], [1, 1, 1, 1]]])
    expected = [
        [float(scores_from_counts(*(torch.tensor(v) for v in cell))["f1"]) for cell in row]
        for row in counts
    ]
    np.testing.assert_allclose(f1_from_counts(counts), expected)
    assert f1_from_counts(counts[0, 1]) == 0.0  # no change anywhere: 0, not NaN
