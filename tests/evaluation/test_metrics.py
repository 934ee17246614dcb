"""Golden values against hand-computed confusion matrices."""

import pytest
import torch

from hicd.evaluation import ChangeMetrics, scores_from_counts


def test_golden_values() -> None:
    # tp=3, fp=1, fn=2, tn=4 (n=10); ignored pixels (255) excluded.
    preds = torch.tensor([[1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 0]])
    target = torch.tensor([[1, 1, 1, 0, 1, 1, 0, 0, 0, 0, 255, 255]])
    metric = ChangeMetrics()
    metric.update(preds, target)
    assert metric.counts() == {"tp": 3, "fp": 1, "tn": 4, "fn": 2}
    scores = {k: float(v) for k, v in metric.compute().items()}
    expected_kappa = (0.7 - (4 * 5 + 6 * 5) / 100) / (1 - 0.5)
    assert scores == pytest.approx(
        {
            "precision": 0.75,
            "recall": 0.6,
            "f1": 6 / 9,
            "iou": 0.5,
            "oa": 0.7,
            "kappa": expected_kappa,
        }
    )


def test_logits_are_argmaxed_and_probabilities_thresholded() -> None:
    target = torch.tensor([[[0, 1], [1, 0]]])
    logits = torch.tensor([[[[2.0, -1.0], [0.0, 3.0]], [[1.0, 0.5], [1.0, 0.0]]]])
    probabilities = torch.tensor([[[0.2, 0.9], [0.7, 0.4]]])
    for preds in (logits, probabilities):
        metric = ChangeMetrics()
        metric.update(preds, target)
        assert metric.counts() == {"tp": 2, "fp": 0, "tn": 2, "fn": 0}


def test_global_accumulation_differs_from_per_batch_average() -> None:
    metric = ChangeMetrics()
    batches = [
        (torch.tensor([[1, 0, 0, 0]]), torch.tensor([[1, 0, 0, 0]])),  # F1 = 1
        (torch.tensor([[1, 1, 1, 1]]), torch.tensor([[1, 0, 0, 0]])),  # F1 = 0.4
        (torch.tensor([[0, 0, 0, 0]]), torch.tensor([[1, 1, 1, 1]])),  # F1 = 0
    ]
    per_batch = []
    for preds, target in batches:
        single = ChangeMetrics()
        single.update(preds, target)
        per_batch.append(float(single.compute()["f1"]))
        metric.update(preds, target)
    global_f1 = float(metric.compute()["f1"])
    assert global_f1 == pytest.approx(2 * 2 / (2 * 2 + 3 + 4))
    assert global_f1 != pytest.approx(sum(per_batch) / len(per_batch))


def test_zero_division_gives_zero() -> None:
    zero = torch.tensor(0)
    scores = scores_from_counts(tp=zero, fp=zero, tn=torch.tensor(5), fn=zero)
    assert {k: float(v) for k, v in scores.items()} == {
        "precision": 0.0,
        "recall": 0.0,
        "f1": 0.0,
        "iou": 0.0,
        "oa": 1.0,
        "kappa": 0.0,
    }


def test_perfect_prediction() -> None:
    metric = ChangeMetrics()
    target = torch.tensor([[0, 1, 1, 0, 255]])
    metric.update(target.clamp(max=1), target)
    scores = metric.compute()
    assert all(float(scores[k]) == 1.0 for k in ("precision", "recall", "f1", "iou", "oa", "kappa"))
