"""Evaluation results: one confusion matrix per (model, setting), as JSON, CSV and markdown."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from hicd.atomic import check_parent, require_folder, write_text_atomic
from hicd.errors import ConfigError, DataError
from hicd.evaluation.metrics import METRIC_NAMES, scores_from_counts

RESULT_KEYS: tuple[str, ...] = ("model", "setting", *METRIC_NAMES)
COUNT_KEYS: tuple[str, ...] = ("tp", "fp", "tn", "fn")
PROGRESS_FILE = "progress.json"
FIGURES: tuple[str, ...] = ("robustness.png", "examples.png")
RESULT_FILES: tuple[str, ...] = (
    "results.json",
    "results.csv",
    "results.md",
    "confusion.json",
    *FIGURES,
    PROGRESS_FILE,
)
"""What an evaluation writes into its ``out`` folder."""
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


def check_out(out: Path, overwrite: bool = False, resume: bool = False) -> None:
    """Refuse, before any work, an ``out`` that cannot become a results folder, or one that
    holds an earlier evaluation's results unless ``overwrite`` or ``resume``."""
    if overwrite and resume:
        raise ConfigError("--overwrite and --resume exclude each other: give one")
    require_folder(out)
    if out.exists():
        if not os.access(out, os.W_OK | os.X_OK):
            raise ConfigError(f"--out {out}: folder is not writable")
        held = [name for name in RESULT_FILES if (out / name).exists()]
        if held and not (overwrite or resume):
            raise ConfigError(
                f"--out {out}: holds the results of an earlier evaluation ({held[0]}); give "
                "--resume to finish it, --overwrite to replace it, or another --out"
            )
        if held and resume and not (out / PROGRESS_FILE).is_file():
            raise ConfigError(
                f"--out {out}: holds results but no {PROGRESS_FILE} to resume from; give "
                "--overwrite to replace them"
            )
        return
    check_parent(out, "--out")


def _differences(before: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    differences = []
    for key in dict.fromkeys([*now, *before]):
        old, new = before.get(key), now.get(key)
        if old == new:
            continue
        if key == "checkpoints" and old and new and len(old) == len(new):
            for was, is_ in zip(old, new, strict=True):
                if (was["name"], was["path"]) != (is_["name"], is_["path"]):
                    differences.append(
                        f"checkpoint {was['name']} ({was['path']}) then, "
                        f"{is_['name']} ({is_['path']}) now"
                    )
                elif was["sha256"] != is_["sha256"]:
                    differences.append(f"checkpoint {is_['path']} has changed since")
        elif key == "checkpoints":
            differences.append(
                f"checkpoints {[c['path'] for c in old or []]} then, "
                f"{[c['path'] for c in new or []]} now"
            )
        else:
            differences.append(f"{key} {old!r} then, {new!r} now")
    return differences


class Progress:
    """``out/progress.json``: what a run is (``identity``) and the settings it has finished.

    ``finished`` maps setting → model → ``{"counts": {...}}`` (and ``"cells"`` when asked for);
    :meth:`save` rewrites the results files from it after every setting.
    """

    def __init__(self, out: Path, identity: Mapping[str, Any]) -> None:
        self.out = out
        self.identity = json.loads(json.dumps(identity))  # as it reads back
        self.resumed: tuple[str, ...] = ()
        self._saved = False

    def load(self) -> dict[str, dict[str, Any]]:
        """The finished settings of the run recorded in ``out`` (none when nothing is there);
        ConfigError when that run had other checkpoints, data or options."""
        path = self.out / PROGRESS_FILE
        if not path.is_file():
            return {}
        try:
            state = json.loads(path.read_text())
            identity, finished = state["identity"], dict(state["finished"])
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise DataError(
                f"{path}: unreadable ({error}); give --overwrite to start again"
            ) from None
        differences = _differences(identity, self.identity)
        if differences:
            raise ConfigError(
                f"--resume: {path} records another evaluation: {'; '.join(differences)} "
                "(give --overwrite to start again, or another --out)"
            )
        self.resumed = tuple(finished)
        return finished

    def save(
        self,
        finished: Mapping[str, Any],
        scores: Sequence[Score],
        context: Mapping[str, str],
    ) -> None:
        """Write the results of the finished settings, then the progress file."""
        self.out.mkdir(parents=True, exist_ok=True)
        if not self._saved and not self.resumed:
            for name in FIGURES:  # an earlier run's figures do not describe this one
                (self.out / name).unlink(missing_ok=True)
        self._saved = True
        write_results(self.out, scores, context)
        state = {"identity": self.identity, "finished": finished}
        write_text_atomic(self.out / PROGRESS_FILE, json.dumps(state) + "\n")
