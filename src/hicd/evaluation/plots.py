"""Figures of an evaluation: F1 against degradation severity, and a sheet of example change maps.

Drawn on matplotlib ``Figure`` objects with the Agg canvas (no pyplot state, no display).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from hicd.atomic import atomic_path
from hicd.degradations import SEVERITIES, SINGLE_KINDS, DegradationSetting
from hicd.errors import ConfigError
from hicd.evaluation.examples import Example

SUBPLOT_COLUMNS = 3


def _save(figure: Figure, path: Path) -> Path:
    FigureCanvasAgg(figure)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100)
    return path


def _parse(name: str) -> DegradationSetting | None:
    """The setting a result row names; None for labels such as a released folder's."""
    try:
        return DegradationSetting.parse(name)
    except ConfigError:
        return None


def _single_f1(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, dict[int, float]]]:
    """``{kind: {model: {severity: f1}}}`` over the rows of single-degradation settings."""
    curves: dict[str, dict[str, dict[int, float]]] = {}
    for row in rows:
        setting = _parse(row["setting"])
        if setting is not None and setting.setting == "single" and setting.date is None:
            curves.setdefault(setting.kind, {}).setdefault(row["model"], {})[setting.severity] = (
                row["f1"]
            )
    return {kind: curves[kind] for kind in SINGLE_KINDS if kind in curves}


def plot_robustness(rows: Sequence[Mapping[str, Any]], path: Path) -> Path:
    """F1 against severity, one subplot per single-degradation kind and one line per model
    (the clean F1 dashed, where evaluated); grouped F1 bars per setting without single settings."""
    curves = _single_f1(rows)
    if not curves:
        return _save(_setting_bars(rows), path)
    models = list(dict.fromkeys(row["model"] for row in rows))
    clean = {row["model"]: row["f1"] for row in rows if row["setting"] == "clean"}
    columns = min(SUBPLOT_COLUMNS, len(curves))
    lines = math.ceil(len(curves) / columns)
    figure = Figure(figsize=(max(5, 4 * columns), 3.2 * lines + 0.4), layout="constrained")
    axes = figure.subplots(lines, columns, squeeze=False).ravel()
    for axis, (kind, per_model) in zip(axes, curves.items(), strict=False):
        for index, model in enumerate(models):
            colour = f"C{index % 10}"
            points = sorted(per_model.get(model, {}).items())
            if points:
                severities, f1 = zip(*points, strict=True)
                axis.plot(severities, f1, marker="o", color=colour, label=model)
            if model in clean:
                axis.axhline(clean[model], color=colour, linestyle="--", linewidth=0.8)
        axis.set(title=kind.replace("_", " "), xlabel="severity", ylabel="F1", ylim=(0, 1))
        axis.set_xticks(SEVERITIES)
        axis.grid(alpha=0.3)
    for axis in axes[len(curves) :]:
        axis.set_visible(False)
    axes[0].legend(fontsize="small")
    if clean:
        figure.suptitle("F1 against severity (dashed: clean)")
    return _save(figure, path)


def _setting_bars(rows: Sequence[Mapping[str, Any]]) -> Figure:
    models = list(dict.fromkeys(row["model"] for row in rows))
    settings = list(dict.fromkeys(row["setting"] for row in rows))
    f1 = {(row["model"], row["setting"]): row["f1"] for row in rows}
    width = 0.8 / len(models)
    figure = Figure(figsize=(max(5, 1.2 * len(settings) * max(1, len(models) / 2)), 4))
    figure.set_layout_engine("constrained")
    axis = figure.subplots()
    for index, model in enumerate(models):
        positions = [s + (index - (len(models) - 1) / 2) * width for s in range(len(settings))]
        values = [f1.get((model, setting), 0.0) for setting in settings]
        axis.bar(positions, values, width=width, label=model, color=f"C{index % 10}")
    axis.set_xticks(range(len(settings)), settings, rotation=30, ha="right")
    axis.set(ylabel="F1", ylim=(0, 1), title="F1 per setting")
    axis.grid(axis="y", alpha=0.3)
    axis.legend(fontsize="small")
    return figure


def plot_examples(examples: Sequence[Example], models: Sequence[str], setting: str, path: Path):
    """Rows of example pairs: t1 | degraded t2 | truth | one prediction per model."""
    titles = ["t1", f"t2 ({setting})", "truth", *models]
    columns = len(titles)
    aspect = max(e.truth.shape[0] / e.truth.shape[1] for e in examples)
    size = (2.4 * columns, (2.4 * aspect + 0.3) * len(examples) + 0.5)
    figure = Figure(figsize=size, layout="constrained")
    axes = figure.subplots(len(examples), columns, squeeze=False)
    for row, example in enumerate(examples):
        panels = [example.t1, example.t2, example.truth, *(example.predictions[m] for m in models)]
        for column, panel in enumerate(panels):
            axis = axes[row, column]
            axis.imshow(panel, interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
            if row == 0:
                axis.set_title(titles[column], fontsize="small")
        axes[row, 0].set_ylabel(example.name, fontsize="small")
    figure.suptitle(
        "predictions: true positive white, false positive red, false negative green",
        fontsize="small",
    )
    return _save(figure, path)
