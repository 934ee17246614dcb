"""Result tables and example selection, without any model."""

from __future__ import annotations

from pathlib import Path

import torch

from hicd.evaluation.examples import FN, FP, TN, TP, ExampleCollector, prediction_panel
from hicd.evaluation.results import Score, long_table, side_by_side_table
from hicd.evaluation.runner import build_cases, model_names


def test_score_rows_and_tables() -> None:
    scores = [
        Score("a", "clean", {"tp": 3, "fp": 1, "tn": 4, "fn": 2}),
        Score("b", "clean", {"tp": 0, "fp": 0, "tn": 10, "fn": 0}),
        Score("a", "multi-x4", {"tp": 1, "fp": 1, "tn": 1, "fn": 1}),
    ]
    rows = [score.row() for score in scores]
    assert rows[0]["f1"] == 6 / 9 and rows[0]["iou"] == 0.5
    assert rows[1]["f1"] == 0.0 and rows[1]["oa"] == 1.0  # zero-division rule of the metrics
    assert side_by_side_table(rows).splitlines() == [
        "| setting | a F1 | a IoU | b F1 | b IoU |",
        "|:---|---:|---:|---:|---:|",
        "| clean | 66.67 | 50.00 | 0.00 | 0.00 |",
        "| multi-x4 | 50.00 | 33.33 | – | – |",
    ]
    assert "| a | clean | 75.00 | 60.00 | 66.67 | 50.00 | 70.00 |" in long_table(rows)


def test_settings_and_names() -> None:
    assert [c.name for c in build_cases("clean,resolution")] == [
        "clean",
        "resolution-x2",
        "resolution-x4",
        "resolution-x8",
    ]
    assert [c.name for c in build_cases(None)][:3] == ["clean", "resolution-x4", "resolution-x8"]
    assert len(build_cases(None)) == 1 + 2 + 30 + 1
    released = build_cases(None, degraded_t2_dir="somewhere", degraded_name="levir-lq")
    assert [(c.name, c.setting) for c in released] == [("levir-lq", None)]
    paths = [Path("run1/last.ckpt"), Path("run2/last.ckpt")]
    assert model_names(paths, None) == ["run1/last", "run2/last"]
    assert model_names([Path("x/teacher.ckpt")], None) == ["teacher"]


def test_examples_keep_the_pairs_with_most_change_in_order() -> None:
    collector = ExampleCollector(2)
    for index, changed in enumerate([5, 20, 20, 1, 30]):
        mask = torch.zeros(8, 8, dtype=torch.int64)
        mask.view(-1)[:changed] = 1
        sample = {
            "name": f"p{index}",
            "mask": mask,
            "t1": torch.rand(3, 8, 8),
            "t2": torch.rand(1, 8, 8),
        }
        collector.offer(index, sample, {"m": torch.rand(8, 8)})
    assert [e.name for e in collector.examples] == ["p4", "p1"]
    example = collector.examples[0]
    assert example.t1.shape == example.t2.shape == example.truth.shape == (8, 8, 3)


def test_prediction_colours() -> None:
    mask = torch.tensor([[0, 0, 1, 1, 255]])
    change = torch.tensor([[False, True, False, True, True]])
    panel = prediction_panel(change, mask)
    assert [tuple(panel[0, i]) for i in range(4)] == [TN, FP, FN, TP]
