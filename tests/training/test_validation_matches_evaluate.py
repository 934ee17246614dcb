"""Training's validation and ``hicd evaluate`` score a checkpoint with one tiling engine: the
``val/*`` scores of a checkpoint equal ``evaluate_checkpoints``' scores of it on the same images,
setting and tiling."""

from __future__ import annotations

import warnings

import pytest
import torch
import yaml

from hicd.api import ChangeDetector
from hicd.cli.lightning import run_lightning_cli
from hicd.data import BitemporalDataset, write_synthetic_dataset
from hicd.evaluation import evaluate_checkpoints

SCORES = ("f1", "precision", "recall", "iou", "oa", "kappa")
TILE = 40  # 64-px images: 2 × 2 blended windows overlapping by 10 pixels


def test_validation_matches_evaluate(
    tmp_path, configs, run_fit, tiny_overlay, tiny_network_overlay
):
    argv = [
        "--config", str(configs / "synthetic" / "teacher.yaml"),
        "--config", str(tiny_overlay),
        "--config", str(tiny_network_overlay),
        "--data.eval_tile", str(TILE),
        "--data.eval_batch_size", "1",
        "--trainer.default_root_dir", str(tmp_path / "teacher"),
    ]  # fmt: skip
    run_fit(argv)
    last = tmp_path / "teacher" / "checkpoints" / "last.ckpt"

    # The validation split of the synthetic data module, written as files.
    synthetic = yaml.safe_load(tiny_overlay.read_text())["data"]["synthetic"]
    data = write_synthetic_dataset(
        tmp_path / "data",
        {split: synthetic[split] for split in ("train", "val", "test")},
        size=synthetic["size"],
        seed=synthetic["seed"],
    )

    # Two training steps predict no change anywhere: shift the change logit so that about half
    # the pixels are predicted changed, and the comparison counts something.
    detector = ChangeDetector.from_checkpoint(last, "cpu")
    probability = torch.cat(
        [
            detector.predict(s["t1"], s["t2"], tile=TILE).flatten()
            for s in BitemporalDataset(data, split="val")
        ]
    ).clamp(1e-6, 1 - 1e-6)
    checkpoint = torch.load(last, weights_only=True)
    checkpoint["state_dict"]["model.head.1.bias"][1] -= probability.logit().median()
    shifted = tmp_path / "shifted.ckpt"
    torch.save(checkpoint, shifted)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        validated = run_lightning_cli(["validate", *argv, "--ckpt_path", str(shifted)])
    logged = validated.trainer.callback_metrics
    (row,) = evaluate_checkpoints(
        [shifted],
        data,
        split="val",
        settings="clean",
        tile=TILE,
        device="cpu",
        examples=0,
        progress=False,
    )
    assert 0 < row["recall"] < 1 and 0 < row["f1"] < 1  # both classes predicted
    for score in SCORES:
        assert float(logged[f"val/{score}"]) == pytest.approx(row[score], abs=1e-6), score
