"""Evaluation: change metrics from one global confusion matrix, and the robustness benchmark
(``evaluate_checkpoints``, the engine of ``hicd evaluate``)."""

from __future__ import annotations

from typing import Any

from hicd.evaluation.metrics import METRIC_NAMES, ChangeMetrics, scores_from_counts

__all__ = [
    "DEFAULT_SETTINGS",
    "METRIC_NAMES",
    "ChangeMetrics",
    "EvaluateOptions",
    "evaluate_checkpoints",
    "scores_from_counts",
]

_RUNNER_NAMES = ("DEFAULT_SETTINGS", "EvaluateOptions", "evaluate_checkpoints")


def __getattr__(name: str) -> Any:
    # The runner pulls in models, data and plotting; import it only when asked for.
    if name in _RUNNER_NAMES:
        from hicd.evaluation import runner

        return getattr(runner, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
