"""evaluate_checkpoints: outputs, setting expansion, global metrics, released sets, native size."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from PIL import Image

from hicd.data.degraded_copy import write_degraded_dataset
from hicd.degradations import SEVERITIES, SINGLE_KINDS
from hicd.errors import ConfigError, DataError
from hicd.evaluation import runner
from hicd.evaluation.metrics import METRIC_NAMES, scores_from_counts
from hicd.evaluation.runner import evaluate_checkpoints

KEYS = ["model", "setting", *METRIC_NAMES]


def t1_band_predictor(model, t1, t2, **options) -> torch.Tensor:
    """A stand-in predictor: the first band of t1 is the change probability."""
    return t1[0]


def test_two_checkpoints_write_every_output(checkpoints, dataset, tmp_path) -> None:
    out = tmp_path / "out"
    rows = evaluate_checkpoints(
        checkpoints,
        dataset,
        settings="clean,single-jpeg-s1,single-jpeg-s4,multi-x4",
        out=out,
        progress=False,
    )
    settings = ["clean", "single-jpeg-s1", "single-jpeg-s4", "multi-x4"]
    assert [(row["model"], row["setting"]) for row in rows] == [
        (model, setting) for model in ("a", "b") for setting in settings
    ]
    assert all(list(row) == KEYS for row in rows)
    assert all(0 <= row[m] <= 1 for row in rows for m in METRIC_NAMES if m != "kappa")

    assert json.loads((out / "results.json").read_text()) == rows
    with (out / "results.csv").open() as handle:
        table = list(csv.DictReader(handle))
    assert list(table[0]) == KEYS and len(table) == len(rows)
    assert [float(r["f1"]) for r in table] == [row["f1"] for row in rows]
    markdown = (out / "results.md").read_text()
    assert "| setting | a F1 | a IoU | b F1 | b IoU |" in markdown
    assert "| model | setting | Precision | Recall | F1 | IoU | OA | Kappa |" in markdown
    for counts in json.loads((out / "confusion.json").read_text()):
        assert sum(counts[k] for k in ("tp", "fp", "tn", "fn")) == 3 * 64 * 80
    for figure in ("robustness.png", "examples.png"):
        with Image.open(out / figure) as image:
            assert image.format == "PNG" and min(image.size) > 100
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_single_expands_to_every_kind_and_severity(checkpoints, dataset, monkeypatch) -> None:
    monkeypatch.setattr(runner, "predict_change_probability", t1_band_predictor)
    rows = evaluate_checkpoints(checkpoints[:1], dataset, settings="single", progress=False)
    expected = [f"single-{kind}-s{severity}" for kind in SINGLE_KINDS for severity in SEVERITIES]
    assert [row["setting"] for row in rows] == expected
    assert len(expected) == 30


def test_grid_and_dated_settings(checkpoints, dataset, monkeypatch) -> None:
    from hicd.degradations import GRID

    monkeypatch.setattr(runner, "predict_change_probability", t1_band_predictor)
    assert [case.name for case in runner.build_cases("grid,mixed")] == [*GRID, "mixed"]
    dated = evaluate_checkpoints(
        checkpoints[:1], dataset, settings="multi-x4@t1,multi-x4,mixed", progress=False
    )
    by_date = evaluate_checkpoints(
        checkpoints[:1], dataset, settings="multi-x4", date="t1", progress=False
    )
    assert [row["setting"] for row in dated] == ["multi-x4@t1", "multi-x4", "mixed"]
    # the predictor reads t1: "@t1" degrades t1 exactly as --date t1 does; t2 leaves t1 clean
    assert dated[0]["f1"] == by_date[0]["f1"] and dated[1]["f1"] != dated[0]["f1"]


def test_metrics_come_from_one_confusion_matrix_over_the_set(
    checkpoints, tmp_path, monkeypatch
) -> None:
    """Per-image F1 averaging would give a different answer from the global confusion matrix."""
    root = tmp_path / "data"
    # (predicted change pixels, true change pixels, overlap) per 10×10 image, predictions
    # stored in t1's first band so that the stand-in predictor returns them.
    cases = {"p1": (10, 10, 10), "p2": (50, 10, 10), "p3": (0, 40, 0)}
    for name, (predicted, true, overlap) in cases.items():
        prediction = np.zeros(100, np.uint8)
        label = np.zeros(100, np.uint8)
        prediction[:predicted] = 255
        label[predicted - overlap : predicted - overlap + true] = 255
        for folder, array in (("A", prediction), ("B", prediction), ("label", label)):
            (root / folder).mkdir(parents=True, exist_ok=True)
            image = np.repeat(array.reshape(10, 10, 1), 3, axis=2) if folder != "label" else array
            Image.fromarray(image.reshape(10, 10, -1).squeeze()).save(root / folder / f"{name}.png")
    monkeypatch.setattr(runner, "predict_change_probability", t1_band_predictor)
    out = tmp_path / "out"
    (row,) = evaluate_checkpoints(
        checkpoints[:1], root, settings="clean", out=out, examples=0, progress=False
    )
    tp, fp, fn = 20, 40, 40
    counts = {"tp": tp, "fp": fp, "tn": 300 - tp - fp - fn, "fn": fn}
    assert json.loads((out / "confusion.json").read_text()) == [
        {"model": "a", "setting": "clean", **counts}
    ]
    expected = scores_from_counts(*(torch.tensor(counts[k]) for k in ("tp", "fp", "tn", "fn")))
    assert row == pytest.approx(
        {"model": "a", "setting": "clean"} | {k: float(v) for k, v in expected.items()}
    )
    assert row["f1"] == pytest.approx(40 / 120)
    per_image_f1 = np.mean([1.0, 2 * 10 / 60, 0.0])
    assert abs(row["f1"] - per_image_f1) > 0.05
    assert not (out / "examples.png").exists()


def test_released_degraded_folder_scores_like_on_the_fly(checkpoints, dataset, tmp_path) -> None:
    released = write_degraded_dataset(dataset, tmp_path / "deg", "multi-x4", seed=3, progress=False)
    options = {"examples": 0, "progress": False, "seed": 3}
    on_the_fly = evaluate_checkpoints(checkpoints, dataset, settings="multi-x4", **options)
    from_folder = evaluate_checkpoints(
        checkpoints, dataset, degraded_t2_dir=released / "B", degraded_name="multi-x4", **options
    )
    assert from_folder == on_the_fly
    options["seed"] = 4
    other_seed = evaluate_checkpoints(checkpoints[:1], dataset, settings="multi-x4", **options)
    assert other_seed[0] != on_the_fly[0]  # the seed matters: the match above is not vacuous

    both = evaluate_checkpoints(
        checkpoints[:1], dataset, settings="clean", degraded_t2_dir=released / "B", **options
    )
    assert [row["setting"] for row in both] == ["clean", "released"]


def test_odd_size_labels_are_scored_at_native_resolution(checkpoints, tmp_path) -> None:
    root = tmp_path / "odd"
    rng = np.random.default_rng(0)
    label = rng.choice(np.array([0, 1, 255], np.uint8), size=(61, 83), p=[0.6, 0.3, 0.1])
    for folder in ("A", "B"):
        (root / folder).mkdir(parents=True)
        image = rng.integers(0, 256, (61, 83, 3), dtype=np.uint8)
        Image.fromarray(image).save(root / folder / "odd.png")
    (root / "label").mkdir()
    Image.fromarray(label).save(root / "label" / "odd.png")
    out = tmp_path / "out"
    evaluate_checkpoints(
        checkpoints[:1],
        root,
        settings="clean,resolution-x8",
        out=out,
        tile=32,
        overlap=8,
        ignore_value=255,
        progress=False,
    )
    scored = 61 * 83 - int((label == 255).sum())
    for counts in json.loads((out / "confusion.json").read_text()):
        assert counts["tp"] + counts["fp"] + counts["tn"] + counts["fn"] == scored
        assert counts["tp"] + counts["fn"] == int((label == 1).sum())
    with Image.open(out / "robustness.png") as image:  # grouped bars without single settings
        assert image.format == "PNG"


def test_bad_inputs_are_reported_clearly(checkpoints, dataset, tmp_path) -> None:
    with pytest.raises(DataError, match=r"missing\.ckpt: checkpoint not found"):
        evaluate_checkpoints([tmp_path / "missing.ckpt"], dataset, settings="clean")
    with pytest.raises(ConfigError, match="'blurry'"):
        evaluate_checkpoints(checkpoints, dataset, settings="clean,blurry")
    with pytest.raises(ConfigError, match="--name"):
        evaluate_checkpoints(checkpoints, dataset, settings="clean", names=["only-one"])
    with pytest.raises(ConfigError, match="overlap"):
        evaluate_checkpoints(checkpoints, dataset, settings="clean", tile=32, overlap=32)
    with pytest.raises(ConfigError, match="--degraded-name"):
        evaluate_checkpoints(
            checkpoints,
            dataset,
            settings="clean",
            degraded_t2_dir=dataset / "B",
            degraded_name="clean",
        )
    with pytest.raises(DataError, match="dataset folder not found"):
        evaluate_checkpoints(checkpoints, tmp_path / "nowhere", settings="clean")


def test_loader_workers_give_the_same_results(checkpoints, dataset, monkeypatch) -> None:
    monkeypatch.setattr(runner, "predict_change_probability", t1_band_predictor)
    options = {"settings": "clean,single-haze-s2", "examples": 0, "progress": False}
    inline = evaluate_checkpoints(checkpoints[:1], dataset, **options)
    assert evaluate_checkpoints(checkpoints[:1], dataset, workers=1, **options) == inline
