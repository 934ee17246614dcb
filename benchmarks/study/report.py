"""The study's tables, computed from the committed records alone (no training, no checkpoint)."""

from __future__ import annotations

import math
from collections import Counter

from . import records
from .configs import (
    BASELINES,
    CANDIDATES,
    RECIPES,
    base_label,
    label_hash,
    labels,
    uses_unlabelled,
)
from .folds import fold_names
from .plan import progress
from .statistics import (
    Comparison,
    PooledComparison,
    best_by_validation,
    choose_variant,
    compare,
    mean_f1,
    pairs,
    pooled_compare,
    pooled_f1,
    students,
)

Record = records.Record
SPLIT_TITLES = {
    "test": "held-out tiles (one per fold)",
    "crops": "the 9 crops outside every tile (scored by every fold)",
    "val": "validation blocks",
}


def _pct(value: float) -> str:
    return "–" if value is None or math.isnan(value) else f"{100 * value:.2f}"


def _signed(value: float) -> str:
    return "–" if math.isnan(value) else f"{100 * value:+.2f}"


def _interval(low: float, high: float) -> str:
    return "–" if math.isnan(low) else f"[{100 * low:+.2f}, {100 * high:+.2f}]"


def _df(value: float) -> str:
    # Past 99 the t quantile is within 1.3 % of the normal's: the cell bootstrap dominates.
    return "∞" if math.isinf(value) else ("> 99" if value > 99 else f"{value:.0f}")


def _labels_present(runs: list[Record], dataset: str, setting: str, recipe: str) -> list[str]:
    present = {
        r["config_hash"] for r in runs
        if r["role"] == "student" and r["dataset"] == dataset and r["setting"] == setting
        and r["regime"] == recipe
    }  # fmt: skip
    return [label for label in labels() if label_hash(label) in present]


def comparison_row(title: str, split: str, result: Comparison) -> str:
    return (
        f"| {title} | {split} | {result.n_pairs} | {result.n_folds} | {_signed(result.mean)} | "
        f"{_interval(result.low, result.high)} | "
        f"{'–' if math.isnan(result.low) else f'{100 * result.half_width:.2f}'} | "
        f"{_interval(result.boot_low, result.boot_high)} | {result.wins}/{result.n_pairs} |"
    )


def validation_only(model: tuple[str, str], choice: tuple[str, str] | None) -> bool:
    """A candidate variant other than the chosen one is reported on validation only: the
    plan reports only the variant chosen on validation on test data."""
    return model[1] in CANDIDATES[1:] and model != choice


def _model_row(
    title: str, runs: list[Record], splits: list[str], setting: str, shown: list[str] | None = None
) -> str:
    """A model's row: runs, folds, seeds, then pooled and per-run F1 on each split (``–`` on
    the splits not ``shown``)."""
    cells = [
        f"{_pct(pooled_f1(runs, s, setting))} | {_pct(mean_f1(runs, s, setting))}"
        if shown is None or s in shown
        else "– | –"
        for s in splits
    ]
    return (
        f"| {title} | {len(runs)} | {len({r['fold'] for r in runs})} | "
        f"{len({r['seed'] for r in runs})} | " + " | ".join(cells) + " |"
    )


def dataset_report(
    runs: list[Record], dataset: str, setting: str, choice: tuple[str, str] | None
) -> list[str]:
    """One dataset and setting's tables; ``choice`` is the variant chosen on validation."""
    splits = [s for s in ("test", "crops", "val") if dataset == "levir" or s != "crops"]
    lines = [f"## {dataset}, {setting}", ""]
    teachers = [r for r in runs if r["role"] == "teacher" and r["dataset"] == dataset]
    header = " | ".join(f"{s} F1 pooled | {s} F1 per run" for s in splits)
    lines += [
        f"| model | runs | folds | seeds | {header} |",
        "|:---|---:|---:|---:|" + "---:|" * (2 * len(splits)),
    ]
    for shown in ("clean", setting):
        lines.append(_model_row(f"teacher on {shown}", teachers, splits, shown))
    models: dict[tuple[str, str], list[Record]] = {}
    for recipe in RECIPES:
        for label in _labels_present(runs, dataset, setting, recipe):
            group = students(runs, dataset, setting, recipe, label)
            models[(recipe, label)] = group
            shown = ["val"] if validation_only((recipe, label), choice) else splits
            lines.append(_model_row(f"{recipe} {label}", group, splits, setting, shown))
    lines += ["", "Paired differences of F1 (percentage points; runs paired by fold, seed and "
              "teacher; t-interval over the per-fold means of the seed-averaged differences, "
              "df = folds − 1; bootstrap over 256² cells within folds):", "",
              "| comparison | split | pairs | folds | mean | 95 % t (folds) | half-width | "
              "95 % bootstrap (cells) | better |",
              "|:---|:---|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    comparisons: list[tuple[str, tuple[str, str], tuple[str, str]]] = []
    for recipe in RECIPES:
        for label in _labels_present(runs, dataset, setting, recipe):
            if label != "none" and (recipe, "none") in models:
                comparisons.append((f"{recipe}: {label} − none", (recipe, label), (recipe, "none")))
            if label in BASELINES and (recipe, "hicd") in models:
                comparisons.append((f"{recipe}: hicd − {label}", (recipe, "hicd"), (recipe, label)))
            if uses_unlabelled(label) and (recipe, base_label(label)) in models:
                comparisons.append(
                    (f"{recipe}: {label} − {base_label(label)}", (recipe, label),
                     (recipe, base_label(label)))
                )  # fmt: skip
    undistilled = best_by_validation(
        runs, "levir", "multi-x4", fold_names("levir"),
        [(r, "none") for r in RECIPES],
    )  # fmt: skip
    distilled = choice or best_by_validation(
        runs, "levir", "multi-x4", fold_names("levir"),
        [(r, "hicd") for r in RECIPES],
    )  # fmt: skip
    if undistilled and distilled and undistilled in models and distilled in models:
        comparisons.append(
            (f"best distilled ({' '.join(distilled)}) − best undistilled "
             f"({' '.join(undistilled)})", distilled, undistilled)
        )  # fmt: skip
    if (dataset, setting) != ("levir", "multi-x4"):
        # the same question answered on this dataset and setting's own validation
        scored = [m for m in models if not validation_only(m, choice)]
        folds = sorted({r["fold"] for group in models.values() for r in group})
        own = [
            best_by_validation(runs, dataset, setting, folds, options) if options else None
            for options in (
                [m for m in scored if m[1] not in ("none", *BASELINES)
                 and not uses_unlabelled(m[1])],
                [m for m in scored if m[1] == "none"],
            )
        ]  # fmt: skip
        if all(own):
            comparisons.append(
                (f"best on this validation: distilled ({' '.join(own[0])}) − undistilled "
                 f"({' '.join(own[1])})", own[0], own[1])
            )  # fmt: skip
    if ("scratch", "none") in models and ("finetune", "none") in models:
        comparisons.append(("none: finetune − scratch", ("finetune", "none"), ("scratch", "none")))
    on_test: list[tuple[str, Comparison]] = []
    for split in splits:
        for title, a, b in comparisons:
            if split != "val" and validation_only(a, choice):
                continue
            found = pairs(models[a], models[b])
            if found:
                result = compare(found, split, setting, shared_cells=split == "crops")
                lines.append(comparison_row(title, split, result))
                if split == "test":
                    on_test.append((title, result))
    lines += ["", *resolution_table(on_test), "", *per_fold_table(on_test), ""]
    pooled = [
        (title, result) for title, a, b in comparisons
        if not validation_only(a, choice)
        and (result := pooled_compare(pairs(models[a], models[b]), "test", setting)) is not None
    ]  # fmt: skip
    lines += [*pooled_table(pooled), ""]
    return lines


def pooled_table(results: list[tuple[str, PooledComparison]]) -> list[str]:
    """Paired differences of pooled F1 over the held-out tiles (a view of these tiles)."""
    if not results:
        return []
    lines = [
        "Paired differences of pooled F1 on the test images (F1 points; per seed one confusion "
        "matrix per model over every fold's test images, seeds that pair on every fold; 95 % "
        "interval from the seeds' spread and a 256² cell bootstrap within folds added, "
        "Welch–Satterthwaite df, slightly conservative; added after the per-fold table had been "
        "seen: it speaks of images like these folds' test images, where the t-interval over "
        "folds speaks of new tiles):",
        "",
        "| comparison | seeds | mean | 95 % (seeds + cells) | half-width | df | seed sd | "
        "cell se | 95 % bootstrap (cells) | seeds better |",
        "|:---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for title, r in results:
        lines.append(
            f"| {title} | {r.seeds} | {_signed(r.mean)} | {_interval(r.low, r.high)} | "
            f"{100 * r.half_width:.2f} | {_df(r.df)} | {100 * r.seed_sd:.2f} | "
            f"{100 * r.cell_se:.2f} | {_interval(r.boot_low, r.boot_high)} | "
            f"{r.wins}/{r.seeds} |"
        )
    return lines


def resolution_table(results: list[tuple[str, Comparison]]) -> list[str]:
    """Where each test half-width comes from, and what more seeds on the same folds can buy."""
    rows = [
        (title, r) for title, r in results if not (math.isnan(r.seed_sd) or math.isnan(r.fold_sd))
    ]
    if not rows:
        return []
    lines = [
        "What more seeds can buy on test (F1 points; seed and fold standard deviations of the "
        "paired differences by the method of moments; projected t half-widths with that many "
        "seeds on each of the same folds; *unlimited* is the floor these folds allow):",
        "",
        "| comparison | seed sd | fold sd | half-width now | 5 seeds | 10 seeds | unlimited |",
        "|:---|---:|---:|---:|---:|---:|---:|",
    ]
    for title, r in rows:
        projected = " | ".join(f"{100 * r.projected_half_width(n):.2f}" for n in (5, 10, math.inf))
        lines.append(
            f"| {title} | {100 * r.seed_sd:.2f} | {100 * r.fold_sd:.2f} | "
            f"{100 * r.half_width:.2f} | {projected} |"
        )
    return lines


def per_fold_table(results: list[tuple[str, Comparison]]) -> list[str]:
    """Each test comparison's seed-averaged difference on each held-out fold (the values the
    t-interval over folds is computed from)."""
    folds = sorted({fold for _, r in results for fold in r.per_fold})
    if not folds:
        return []
    lines = [
        "Per held-out fold (F1 points; the seed-averaged paired differences that the t-interval "
        "over folds is computed from):",
        "",
        f"| comparison | {' | '.join(folds)} |",
        f"|:---|{'---:|' * len(folds)}",
    ]
    for title, r in results:
        values = " | ".join(_signed(r.per_fold.get(fold, math.nan)) for fold in folds)
        lines.append(f"| {title} | {values} |")
    return lines


def choice_report(
    choice: tuple[str, str] | None, scores: dict[tuple[str, str], float | None]
) -> list[str]:
    lines = [
        "## Variant chosen on validation (LEVIR-CD multi ×4, mean validation F1 over all folds, "
        "seeds 0–1)", "", "| recipe | candidate | mean validation F1 |", "|:---|:---|---:|",
    ]  # fmt: skip
    for (recipe, label), value in scores.items():
        lines.append(
            f"| {recipe} | {label} | {_pct(value) if value is not None else 'incomplete'} |"
        )
    lines += [
        "",
        f"Chosen: {' '.join(choice)}." if choice else
        f"Not chosen yet: every candidate ({', '.join(CANDIDATES)}) needs all its runs.",
        "",
    ]  # fmt: skip
    return lines


def report(runs: list[Record], budget_name: str = "cpu") -> str:
    """Every table of the records of one budget (``cpu``: this machine's plan; ``gpu``)."""
    runs = [r for r in runs if r.get("budget_name") == budget_name]
    machines = Counter(f"{r['machine']['cpu']}, torch {r['machine']['torch']}, "
                       f"{r['machine']['device']}" for r in runs)  # fmt: skip
    hours = sum(r["seconds"] + r.get("score_seconds", 0) for r in runs) / 3600
    lines = [
        f"# Cross-validated study, budget `{budget_name}`",
        "",
        f"Records: {sum(r['role'] == 'student' for r in runs)} students, "
        f"{sum(r['role'] == 'teacher' for r in runs)} teachers; {hours:.2f} h of training and "
        "scoring (sum over runs). Machines: "
        + "; ".join(f"{m} ({n} runs)" for m, n in machines.items())
        + ".",
        "",
        "F1 of the change class in %. *Pooled*: one confusion matrix over every fold's images "
        "per seed, mean over the seeds that cover every fold; *per run*: mean of the runs' "
        "own F1.",
        "",
    ]
    lines += ["## Plan progress", "", "| phase | runs done | runs planned |", "|:---|---:|---:|"]
    lines += [
        f"| {phase} | {done} | {total} |" for phase, done, total in progress(runs, budget_name)
    ]
    lines += ["", "(Runs of the chosen variant are counted once it is chosen.)", ""]
    choice, scores = choose_variant(runs, "levir", "multi-x4", fold_names("levir"))
    lines += choice_report(choice, scores)
    present = sorted({(r["dataset"], r["setting"]) for r in runs if r["role"] == "student"})
    for dataset, setting in present:
        lines += dataset_report(runs, dataset, setting, choice)
    return "\n".join(lines)
