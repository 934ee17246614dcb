"""Tiny CPU runs of the training CLI: overlays that shrink the synthetic configs, and a teacher
checkpoint fitted once per session."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import yaml

from hicd.cli.lightning import run_lightning_cli

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIGS = REPO_ROOT / "configs"

TINY_RUN = {
    "trainer": {
        "accelerator": "cpu",
        "devices": 1,
        "max_steps": 2,
        "num_sanity_val_steps": 0,
        "enable_model_summary": False,
        "enable_progress_bar": False,
        "log_every_n_steps": 1,
    },
    # 4 training pairs in batches of 2: one epoch is 2 steps, then validation and checkpoints.
    "data": {
        "synthetic": {"train": 4, "val": 2, "test": 2, "size": 64, "seed": 0},
        "crop_size": 64,
        "batch_size": 2,
        "eval_batch_size": 2,
        "num_workers": 0,
    },
}
TINY_NETWORK = {
    "model": {"init_args": {"network": {"pretrained": None, "options": {"decoder_channels": 16}}}}
}


def write_yaml(path: Path, content: dict) -> Path:
    path.write_text(yaml.safe_dump(content))
    return path


def fit(argv: list[str]):
    """Run ``hicd fit`` in-process and return the LightningCLI object."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_lightning_cli(["fit", *argv])


@pytest.fixture(scope="session")
def configs() -> Path:
    """The repository's configs/ folder."""
    return CONFIGS


@pytest.fixture(scope="session")
def run_fit():
    """``run_fit(argv)``: ``hicd fit ARGV`` in-process, returning the LightningCLI object."""
    return fit


@pytest.fixture(scope="session")
def tiny_overlay(tmp_path_factory) -> Path:
    """An overlay config that shrinks any synthetic config to a seconds-long CPU run."""
    return write_yaml(tmp_path_factory.mktemp("configs") / "tiny.yaml", TINY_RUN)


@pytest.fixture(scope="session")
def tiny_network_overlay(tmp_path_factory) -> Path:
    """An overlay giving a teacher a small, randomly initialised network."""
    return write_yaml(tmp_path_factory.mktemp("configs") / "tiny_network.yaml", TINY_NETWORK)


@pytest.fixture(scope="session")
def teacher_run(tmp_path_factory, tiny_overlay, tiny_network_overlay) -> Path:
    """The run folder of a teacher fitted with configs/synthetic/teacher.yaml (2 steps)."""
    root = tmp_path_factory.mktemp("runs") / "teacher"
    fit(
        [
            "--config", str(CONFIGS / "synthetic" / "teacher.yaml"),
            "--config", str(tiny_overlay),
            "--config", str(tiny_network_overlay),
            "--trainer.default_root_dir", str(root),
        ]
    )  # fmt: skip
    return root


@pytest.fixture(scope="session")
def teacher_checkpoint(teacher_run) -> Path:
    return teacher_run / "checkpoints" / "best.ckpt"
