"""Statistics for comparing models honestly: intervals over seeds and over evaluation cells.

Two sources of uncertainty, two intervals:

* training randomness (seeds): :func:`t_interval` of per-seed values, e.g. the paired
  differences ``F1(hicd, seed s) − F1(none, seed s)`` of runs that share data order and teacher;
* the evaluation set: :func:`bootstrap_f1` resamples cells of the evaluation images (windows
  with their own confusion counts, ``evaluate_checkpoints(cell=...)``) and recomputes F1 from the
  summed counts, so each resample is still one confusion matrix, never an average of per-cell F1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats


def t_half_width(standard_error: float, df: float, confidence: float = 0.95) -> float:
    """Half-width of a two-sided Student-t interval: ``t(df) · standard_error`` (NaN for
    ``df`` < 1; ``math.inf`` gives the normal quantile)."""
    if not df >= 1:
        return float("nan")
    return float(stats.t.ppf(0.5 + confidence / 2, df) * standard_error)


def t_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and two-sided Student-t confidence interval of the mean (``(mean, low, high)``);
    the interval is NaN for fewer than two values."""
    data = np.asarray(values, dtype=np.float64)
    mean = float(data.mean())
    if data.size < 2:
        return mean, float("nan"), float("nan")
    half = t_half_width(data.std(ddof=1) / np.sqrt(data.size), data.size - 1, confidence)
    return mean, mean - half, mean + half


def f1_from_counts(counts: np.ndarray) -> np.ndarray:
    """F1 of the change class from (..., 4) counts (tp, fp, tn, fn); 0 where undefined."""
    counts = np.asarray(counts)
    tp, fp, fn = counts[..., 0], counts[..., 1], counts[..., 3]
    denominator = 2 * tp + fp + fn
    return np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1), 0.0)


def bootstrap_f1(
    cells: Sequence[np.ndarray] | np.ndarray,
    baseline: Sequence[np.ndarray] | np.ndarray | None = None,
    confidence: float = 0.95,
    resamples: int = 10_000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Mean F1 over runs and its percentile bootstrap interval over evaluation cells.

    Args:
        cells: one K×4 array of (tp, fp, tn, fn) per run (e.g. per seed), the same K cells in
            the same order for every run.
        baseline: runs of a second model on the same cells: the statistic is then the mean F1
            difference ``cells − baseline`` (paired: one resample of cells serves both).
        confidence: coverage of the interval.
        resamples: bootstrap resamples of the K cells (with replacement).
        seed: seed of the resampling.

    Returns:
        ``(value, low, high)`` with ``value`` computed on the cells as they are.
    """
    runs = np.asarray(cells, dtype=np.float64)
    others = None if baseline is None else np.asarray(baseline, dtype=np.float64)
    if (
        runs.ndim != 3
        or runs.shape[-1] != 4
        or (others is not None and others.shape[1:] != runs.shape[1:])
    ):
        raise ValueError(
            "bootstrap_f1: give runs × cells × 4 counts (and the same cells for baseline)"
        )

    def statistic(index: np.ndarray, axis: int = -1) -> np.ndarray:
        index = np.asarray(index, dtype=np.int64)
        value = f1_from_counts(runs[:, index].sum(axis=-2)).mean(axis=0)
        if others is not None:
            value = value - f1_from_counts(others[:, index].sum(axis=-2)).mean(axis=0)
        return value

    cells_index = np.arange(runs.shape[1])
    value = float(statistic(cells_index))
    result = stats.bootstrap(
        (cells_index,),
        statistic,
        vectorized=True,
        n_resamples=resamples,
        confidence_level=confidence,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    interval = result.confidence_interval
    return value, float(interval.low), float(interval.high)
