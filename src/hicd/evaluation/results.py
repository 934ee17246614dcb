"""Evaluation results: one confusion matrix per (model, setting), as JSON, CSV and markdown."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from hicd.atomic import write_text_atomic
from hicd.evaluation.metrics import METRIC_NAMES, scores_from_counts

RESULT_KEYS: tuple[str, ...] = ("model", "setting", *METRIC_NAMES)
COUNT_KEYS: tuple[str, ...] = ("tp", "fp", "tn", "fn")
SIDE_BY_SIDE_METRICS: tuple[str, ...] = ("f1", "iou")
METRIC_LABELS = {
    "precision": "Precision",
    "recall": "Recall",
    "f1": "F1",
    "iou": "IoU",
    "oa": "OA",
    "kappa": "Kappa",
}


@dataclass(frozen=True)
class Score:
    """The confusion matrix of one model under one setting, accumulated over the whole set."""

    model: str
    setting: str
    counts: Mapping[str, int]

    def row(self) -> dict[str, Any]:
        """``{"model", "setting", "precision", ..., "kappa"}`` with metrics as fractions."""
        scores = scores_from_counts(*(torch.tensor(self.counts[key]) for key in COUNT_KEYS))
        return {
            "model": self.model,
            "setting": self.setting,
            **{name: float(scores[name]) for name in METRIC_NAMES},
        }

    def count_row(self) -> dict[str, Any]:
        """``{"model", "setting", "tp", "fp", "tn", "fn"}``."""
        return {"model": self.model, "setting": self.setting, **dict(self.counts)}


def _unique(values: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _percent(value: float) -> str:
    return f"{100 * value:.2f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], align: Sequence[str]) -> str:
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(":---" if a == "left" else "---:" for a in align) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]
    return "\n".join(lines)


def side_by_side_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Markdown: one row per setting, an F1 and an IoU column (in %) per model."""
    models = _unique([row["model"] for row in rows])
    settings = _unique([row["setting"] for row in rows])
    lookup = {(row["model"], row["setting"]): row for row in rows}
    header = [
        "setting",
        *(f"{model} {METRIC_LABELS[m]}" for model in models for m in SIDE_BY_SIDE_METRICS),
    ]
    body = [
        [
            setting,
            *(
                _percent(lookup[model, setting][m]) if (model, setting) in lookup else "–"
                for model in models
                for m in SIDE_BY_SIDE_METRICS
            ),
        ]
        for setting in settings
    ]
    return _table(header, body, ["left"] + ["right"] * (len(header) - 1))


def long_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Markdown: every metric (in %) of every (model, setting)."""
    header = ["model", "setting", *(METRIC_LABELS[m] for m in METRIC_NAMES)]
    body = [
        [row["model"], row["setting"], *(_percent(row[m]) for m in METRIC_NAMES)] for row in rows
    ]
    return _table(header, body, ["left", "left"] + ["right"] * len(METRIC_NAMES))


def markdown_report(rows: Sequence[Mapping[str, Any]], context: Mapping[str, str]) -> str:
    """The content of ``results.md``: what was evaluated, then the two tables."""
    about = "\n".join(f"- {key}: {value}" for key, value in context.items())
    return (
        "# Change-detection evaluation\n\n"
        f"{about}\n\n"
        "Scores in %, each from one confusion matrix over the whole set (change class).\n\n"
        "## F1 and IoU per setting\n\n"
        f"{side_by_side_table(rows)}\n\n"
        "## All metrics\n\n"
        f"{long_table(rows)}\n"
    )


def _csv_text(rows: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(keys), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_results(out: Path, scores: Sequence[Score], context: Mapping[str, str]) -> list[dict]:
    """Write results.json, results.csv, results.md and confusion.json into ``out`` atomically."""
    rows = [score.row() for score in scores]
    counts = [score.count_row() for score in scores]
    write_text_atomic(out / "results.json", json.dumps(rows, indent=2) + "\n")
    write_text_atomic(out / "results.csv", _csv_text(rows, RESULT_KEYS))
    write_text_atomic(out / "confusion.json", json.dumps(counts, indent=2) + "\n")
    write_text_atomic(out / "results.md", markdown_report(rows, context))
    return rows
