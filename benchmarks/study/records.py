"""One small JSON record per finished run, committed under ``benchmarks/results/``.

A record holds what identifies the run (dataset, fold, role, recipe, setting, configuration and
its hash, seed, the teacher it was trained against), where and how it ran (commit, machine:
CPU model, torch version, device; steps, chosen step, seconds) and its confusion counts: per
split (``val``, ``test``, ``crops``) and setting, the counts of every 256² cell of every image
(``{image: [[tp, fp, tn, fn], ...]}``), from which per-image, per-fold and pooled F1 and the
cell bootstrap are computed. Checkpoints are never recorded: they stay in the work folder.
"""

from __future__ import annotations

import functools
import json
import platform
import subprocess
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hicd.atomic import write_text_atomic

from .folds import REPO_ROOT

SCHEMA = 1
RESULTS = REPO_ROOT / "benchmarks" / "results" / "study"

Record = dict[str, Any]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    """The machine a run trained on: CPU model, torch version, device (the GPU's name when
    Lightning's ``accelerator="auto"`` trains on one) and threads."""
    name = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    return {
        "cpu": cpu_model(),
        "torch": torch.__version__,
        "device": name,
        "threads": torch.get_num_threads(),
    }


@functools.cache
def commit() -> str:
    """The checkout's commit when first asked (with ``+dirty`` when files under ``src`` differ),
    or ``unknown``. Cached: a study asks at its start, so its records name the code it runs,
    not a commit made while it trains."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO_ROOT, capture_output=True,
            text=True, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "diff", "--quiet", "HEAD", "--", "src"], cwd=REPO_ROOT, check=False
        ).returncode
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def record_name(record: Record) -> str:
    """The file name of a record inside its dataset/fold folder (unique per run)."""
    if record["role"] == "teacher":
        return f"teacher-s{record['seed']}-{record['id']}.json"
    return (
        f"{record['regime']}-{record['setting']}-{record['config_hash']}-s{record['seed']}"
        f"-t{record['teacher']}.json"
    )


def record_path(results: Path, record: Record) -> Path:
    return results / record["dataset"] / record["fold"] / record_name(record)


def save(results: Path, record: Record) -> Path:
    """Write ``record`` (compact JSON, one file) atomically; return its path."""
    path = record_path(results, {"schema": SCHEMA, **record})
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps({"schema": SCHEMA, **record}, separators=(",", ":")))
    return path


def load(results: Path = RESULTS) -> list[Record]:
    """Every record under ``results`` (sorted by path, so reports are reproducible)."""
    records = []
    for path in sorted(results.glob("*/*/*.json")):
        record = json.loads(path.read_text())
        if record.get("schema") != SCHEMA:
            raise ValueError(f"{path}: record schema {record.get('schema')} is not {SCHEMA}")
        records.append(record)
    return records


def cells(scores: dict[str, list[list[int]]], images: Iterable[str] | None = None) -> np.ndarray:
    """K×4 cell counts of the given images (default: all, in record order)."""
    names = list(scores) if images is None else list(images)
    return np.asarray([cell for name in names for cell in scores[name]], dtype=np.int64)


def counts(scores: dict[str, list[list[int]]]) -> np.ndarray:
    """The 4 summed counts (tp, fp, tn, fn) of every image of one split and setting."""
    return cells(scores).reshape(-1, 4).sum(axis=0)
