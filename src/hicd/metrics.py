"""Change-class metrics (see :mod:`hicd.evaluation.metrics`)."""

from hicd.evaluation.metrics import METRIC_NAMES, ChangeMetrics, scores_from_counts

__all__ = ["METRIC_NAMES", "ChangeMetrics", "scores_from_counts"]
