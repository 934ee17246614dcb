"""What the study can see: paired differences, intervals over folds, a cell bootstrap.

For a comparison ``A − B`` on one split and setting, every (fold, seed) where both models have a
record trained against the same teacher gives one paired difference of F1 (each F1 from one
confusion matrix over the fold's images). The primary interval is a Student-t interval over the
per-fold means of the seed-averaged differences (df = folds − 1); the secondary one is a
percentile bootstrap that resamples 256² cells within each fold (the same resample for both
models and every seed), recomputing each F1 from summed counts. The interval's half-width is
the study's resolution for that comparison.

Where it comes from is split by a one-way random-effects model of the differences (method of
moments): the seed standard deviation within a fold and the fold standard deviation of the true
effect. More seeds shrink only the first, so the half-width with unlimited seeds,
``t(df) · fold_sd / √folds``, is the floor this many folds can reach.
"""

from __future__ import annotations

import math
import statistics as stats
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from hicd.evaluation.statistics import f1_from_counts, t_half_width, t_interval

from . import records
from .configs import CANDIDATES, CHOICE_SEEDS, RECIPES, label_hash

Record = records.Record


def run_f1(record: Record, split: str, setting: str) -> float:
    return float(f1_from_counts(records.counts(record["scores"][split][setting])))


def students(
    runs: Iterable[Record], dataset: str, setting: str, regime: str, label: str
) -> list[Record]:
    key = label_hash(label)
    return [
        r for r in runs
        if r["role"] == "student" and r["dataset"] == dataset and r["setting"] == setting
        and r["regime"] == regime and r["config_hash"] == key
    ]  # fmt: skip


@dataclass
class Pair:
    fold: str
    seed: int
    a: Record
    b: Record


def pairs(first: list[Record], second: list[Record]) -> list[Pair]:
    """Runs of two models matched by fold, seed and teacher (the first teacher, in sorted
    order, that both have for a fold and seed)."""
    index: dict[tuple, Record] = {(r["fold"], r["seed"], r["teacher"]): r for r in second}
    found: dict[tuple[str, int], Pair] = {}
    for run in sorted(first, key=lambda r: (r["fold"], r["seed"], r["teacher"])):
        other = index.get((run["fold"], run["seed"], run["teacher"]))
        if other is not None and (run["fold"], run["seed"]) not in found:
            found[(run["fold"], run["seed"])] = Pair(run["fold"], run["seed"], run, other)
    return sorted(found.values(), key=lambda p: (p.fold, p.seed))


@dataclass
class Comparison:
    """The statistics of one paired comparison on one split and setting."""

    n_pairs: int
    n_folds: int
    mean: float
    low: float
    high: float
    boot_low: float
    boot_high: float
    wins: int
    per_fold: dict[str, float]
    seed_sd: float = float("nan")
    fold_sd: float = float("nan")

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def projected_half_width(self, seeds: float) -> float:
        """The t half-width with ``seeds`` seeds on every fold (``math.inf``: the floor)."""
        spread = self.fold_sd**2 + (0.0 if np.isinf(seeds) else self.seed_sd**2 / seeds)
        return t_half_width((spread / self.n_folds) ** 0.5, self.n_folds - 1)


def variance_components(diffs: dict[str, list[float]]) -> tuple[float, float]:
    """(seed sd, fold sd) of per-(fold, seed) differences, by the method of moments: the
    within-fold variance pooled over folds, and the variance of the fold means less its seed
    part (0 when negative). NaN where the data cannot estimate it."""
    df_within = sum(len(values) - 1 for values in diffs.values())
    if df_within == 0 or len(diffs) < 2:
        return float("nan"), float("nan")
    means = {fold: stats.mean(values) for fold, values in diffs.items()}
    squares = sum((v - means[fold]) ** 2 for fold, values in diffs.items() for v in values)
    seed_var = squares / df_within
    seed_part = seed_var * stats.mean(1 / len(values) for values in diffs.values())
    fold_var = max(0.0, stats.variance(means.values()) - seed_part)
    return seed_var**0.5, fold_var**0.5


def bootstrap(
    folds: dict[str, tuple[np.ndarray, np.ndarray]],
    shared_cells: bool = False,
    resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile interval of the mean over folds of the seed-averaged F1 difference.

    ``folds`` maps a fold to two seeds × cells × 4 count arrays (model A, model B). Cells are
    resampled within each fold; ``shared_cells`` uses one resample for every fold (a test set
    that every fold scores, such as the LEVIR-CD crops).
    """
    rng = np.random.default_rng(seed)
    total = np.zeros(resamples)
    shared = None
    for a, b in folds.values():
        k = a.shape[1]
        if shared_cells:
            shared = rng.integers(0, k, (resamples, k)) if shared is None else shared
            index = shared
        else:
            index = rng.integers(0, k, (resamples, k))
        diff = f1_from_counts(a[:, index].sum(axis=2)) - f1_from_counts(
            b[:, index].sum(axis=2)
        )  # seeds × resamples
        total += diff.mean(axis=0)
    total /= len(folds)
    tail = (1 - confidence) / 2
    return float(np.quantile(total, tail)), float(np.quantile(total, 1 - tail))


def compare(found: list[Pair], split: str, setting: str, shared_cells: bool = False) -> Comparison:
    """Statistics of ``A − B`` over matched pairs (see the module docstring)."""
    by_fold: dict[str, list[Pair]] = defaultdict(list)
    for pair in found:
        by_fold[pair.fold].append(pair)
    diffs = {
        fold: [run_f1(p.a, split, setting) - run_f1(p.b, split, setting) for p in group]
        for fold, group in by_fold.items()
    }
    per_fold = {fold: stats.mean(values) for fold, values in diffs.items()}
    mean, low, high = t_interval(list(per_fold.values())) if per_fold else (np.nan,) * 3
    arrays = {
        fold: tuple(
            np.stack([records.cells(getattr(p, side)["scores"][split][setting]) for p in group])
            for side in ("a", "b")
        )
        for fold, group in by_fold.items()
    }
    boot = bootstrap(arrays, shared_cells) if arrays else (np.nan, np.nan)
    wins = sum(d > 0 for values in diffs.values() for d in values)
    return Comparison(
        len(found),
        len(per_fold),
        mean,
        low,
        high,
        *boot,
        wins,
        per_fold,  # type: ignore[arg-type]
        *variance_components(diffs),
    )


@dataclass
class PooledComparison:
    """``A − B`` in pooled F1: per seed, one confusion matrix over every fold's test images
    for each model (the seeds that pair on every fold), then the mean over those seeds.

    Two sources of uncertainty, estimated apart and added: training (the seeds' spread of the
    pooled difference, ``seed_sd``) and the test images (``cell_se``, the standard deviation of
    the seed-averaged pooled difference over a bootstrap of 256² cells resampled within each
    fold, the same resample for both models and every seed). The interval is
    ``mean ± t(df) · √(seed_sd² / seeds + cell_se²)`` with Welch–Satterthwaite's df (seeds − 1
    for the seed part, the cell part as exact); ``boot_low``/``boot_high`` is the cells-only
    percentile interval. It speaks of images like these folds' test images (their cells
    resampled), where the t-interval over folds speaks of new tiles. It leans conservative: the
    seeds' spread on the same images already holds the seed × cell interaction that the
    bootstrap of the seed average counts again.
    """

    seeds: int
    folds: int
    mean: float
    seed_sd: float
    cell_se: float
    boot_low: float
    boot_high: float
    wins: int

    @property
    def half_width(self) -> float:
        return t_half_width(self.se, self.df)

    @property
    def se(self) -> float:
        return (self.seed_sd**2 / self.seeds + self.cell_se**2) ** 0.5

    @property
    def df(self) -> float:
        """Welch–Satterthwaite degrees of freedom (the cell part counted as exact)."""
        seed_part = self.seed_sd**2 / self.seeds
        return self.se**4 / (seed_part**2 / (self.seeds - 1)) if seed_part > 0 else math.inf

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width


def pooled_compare(
    found: list[Pair], split: str, setting: str, resamples: int = 10_000, seed: int = 0
) -> PooledComparison | None:
    """Pooled-F1 statistics of ``A − B`` (see :class:`PooledComparison`); None unless two
    seeds pair on every fold."""
    folds = sorted({p.fold for p in found})
    by_seed: dict[int, dict[str, Pair]] = defaultdict(dict)
    for pair in found:
        by_seed[pair.seed][pair.fold] = pair
    seeds = sorted(s for s, group in by_seed.items() if sorted(group) == folds)
    if len(seeds) < 2:
        return None

    def stacked(fold: str, side: str) -> np.ndarray:  # seeds × cells × 4
        return np.stack(
            [
                records.cells(getattr(by_seed[s][fold], side)["scores"][split][setting])
                for s in seeds
            ]
        )

    arrays = {fold: (stacked(fold, "a"), stacked(fold, "b")) for fold in folds}
    totals = [sum(arrays[f][i].sum(axis=1) for f in folds) for i in (0, 1)]  # seeds × 4
    diffs = f1_from_counts(totals[0]) - f1_from_counts(totals[1])
    rng = np.random.default_rng(seed)
    boot = np.zeros((2, len(seeds), resamples, 4))
    for a, b in arrays.values():
        index = rng.integers(0, a.shape[1], (resamples, a.shape[1]))
        boot[0] += a[:, index].sum(axis=2)
        boot[1] += b[:, index].sum(axis=2)
    resampled = (f1_from_counts(boot[0]) - f1_from_counts(boot[1])).mean(axis=0)
    return PooledComparison(
        len(seeds), len(folds), float(diffs.mean()), float(diffs.std(ddof=1)),
        float(resampled.std(ddof=1)), float(np.quantile(resampled, 0.025)),
        float(np.quantile(resampled, 0.975)), int((diffs > 0).sum()),
    )  # fmt: skip


def pooled_f1(runs: list[Record], split: str, setting: str) -> float:
    """Mean over seeds of the F1 of the counts pooled over every fold of that seed (one
    confusion matrix over the whole cross-validated test set per seed). Only seeds that cover
    every fold of ``runs`` count (a seed still running would pool a part of the test set),
    unless none does."""
    by_seed: dict[int, np.ndarray] = defaultdict(lambda: np.zeros(4, dtype=np.int64))
    folds_of: dict[int, set[str]] = defaultdict(set)
    for run in runs:
        by_seed[run["seed"]] += records.counts(run["scores"][split][setting])
        folds_of[run["seed"]].add(run["fold"])
    folds = set().union(*folds_of.values()) if folds_of else set()
    complete = [seed for seed in by_seed if folds_of[seed] == folds] or list(by_seed)
    return (
        stats.mean(float(f1_from_counts(by_seed[seed])) for seed in complete) if by_seed else np.nan
    )


def mean_f1(runs: list[Record], split: str, setting: str) -> float:
    return stats.mean(run_f1(r, split, setting) for r in runs) if runs else np.nan


def validation_score(
    runs: list[Record], folds: list[str], seeds: Iterable[int], setting: str
) -> float | None:
    """Mean validation F1 over every (fold, seed) given, or None while one is missing."""
    wanted = {(fold, seed) for fold in folds for seed in seeds}
    chosen = {}
    for run in runs:
        if (run["fold"], run["seed"]) in wanted:
            chosen.setdefault((run["fold"], run["seed"]), run)
    if set(chosen) != wanted:
        return None
    return stats.mean(run_f1(r, "val", setting) for r in chosen.values())


def validation_scores(
    runs: list[Record], dataset: str, setting: str, folds: list[str],
    options: Iterable[tuple[str, str]], seeds: Iterable[int] = CHOICE_SEEDS,
) -> dict[tuple[str, str], float | None]:  # fmt: skip
    """Mean validation F1 of each (recipe, label) over every fold and seed given (None while
    one of its runs is missing)."""
    seeds = list(seeds)
    return {
        option: validation_score(students(runs, dataset, setting, *option), folds, seeds, setting)
        for option in options
    }


def _best(scores: dict[tuple[str, str], float | None]) -> tuple[str, str] | None:
    if any(value is None for value in scores.values()):
        return None
    return max(scores, key=lambda k: (scores[k], k))


def choose_variant(
    runs: list[Record], dataset: str, setting: str, folds: list[str],
    candidates: Iterable[str] = CANDIDATES, recipes: Iterable[str] = RECIPES,
    seeds: Iterable[int] = CHOICE_SEEDS,
) -> tuple[tuple[str, str] | None, dict[tuple[str, str], float | None]]:  # fmt: skip
    """The (recipe, label) with the highest mean validation F1 over every fold and the choice
    seeds, and every candidate's score; None until each candidate has all its runs."""
    options = [(recipe, label) for recipe in recipes for label in candidates]
    scores = validation_scores(runs, dataset, setting, folds, options, seeds)
    return _best(scores), scores


def best_by_validation(
    runs: list[Record], dataset: str, setting: str, folds: list[str],
    options: list[tuple[str, str]], seeds: Iterable[int] = CHOICE_SEEDS,
) -> tuple[str, str] | None:  # fmt: skip
    """The option with the highest mean validation F1 (None while one lacks runs)."""
    return _best(validation_scores(runs, dataset, setting, folds, options, seeds))
