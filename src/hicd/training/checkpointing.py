"""The checkpoint policy of every training run, written once.

``checkpoints/best.ckpt`` holds the best ``val/f1`` so far; ``checkpoints/last.ckpt`` the latest
state, rewritten at every validation (``ModelCheckpoint``'s own ``save_last`` only writes when
the top-k checkpoint changes). A new fit into an existing run folder overwrites them rather than
writing ``best-v1.ckpt``, so students always find their teacher at ``checkpoints/best.ckpt``.
``hicd fit`` (``hicd.cli.lightning``: two ``ModelCheckpoint`` groups, these as their defaults)
and the programmatic runs (``hicd.training.runs.fit_best``: the best one) both read it here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import ModelCheckpoint

MONITOR, MODE = "val/f1", "max"
"""The validation metric checkpoints are chosen on, and its direction."""

POLICIES: dict[str, dict[str, Any]] = {
    "best": {
        "monitor": MONITOR,
        "mode": MODE,
        "filename": "best",
        "save_top_k": 1,
        "auto_insert_metric_name": False,
        "enable_version_counter": False,
    },
    "last": {
        "monitor": None,
        "filename": "last",
        "save_top_k": 1,
        "enable_version_counter": False,
    },
}
"""``ModelCheckpoint`` arguments of each kept checkpoint (its file name)."""

CLI_GROUPS = {"checkpoint": "best", "last_checkpoint": "last"}
"""``hicd fit``'s ``ModelCheckpoint`` option groups and the checkpoint each keeps."""


def checkpoint_callback(dirpath: str | Path | None, which: str = "best") -> ModelCheckpoint:
    """The ``ModelCheckpoint`` keeping checkpoint ``which`` (``best`` or ``last``) in
    ``dirpath``."""
    return ModelCheckpoint(dirpath=dirpath, **POLICIES[which])


def cli_defaults() -> dict[str, Any]:
    """The policy as defaults of ``hicd fit``'s option groups (``checkpoint.monitor``, ...)."""
    return {
        f"{group}.{key}": value
        for group, which in CLI_GROUPS.items()
        for key, value in POLICIES[which].items()
    }
