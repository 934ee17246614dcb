"""Accuracy and speed of ``hicd inspect`` on real crops degraded with known parameters.

    OMP_NUM_THREADS=1 nice -n 19 .venv/bin/python -m benchmarks.inspect_accuracy \
        --work /tmp/hicd-inspect-bench

Each dataset of ``--data-root`` (default ``$HICD_SHARED_DATA``, else ``../shared/data``; see
``benchmarks/shared.py``) is degraded by ``hicd degrade``'s writer (``write_degraded_dataset``,
``--seed``) once per setting into ``--work`` (kept and reused: a copy whose manifest matches is
not written again); every pair is then inspected and compared with the manifest
``degradation.json``, the truth. Printed: per setting the share of pairs whose nearest scale
(×1/×2/×4/×8 in log2, with its direction), degraded date, noise sigma (within ±30 %) and
suggested setting are right; the inspection's acceptance targets; and the time per 1024² pair on
one thread (``inspect_pair`` of two PNG files, reading included, median).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import torch

from benchmarks.shared import shared_data_dir
from hicd.data.degraded_copy import MANIFEST, write_degraded_dataset
from hicd.inspection import inspect_dataset, inspect_pair, nearest_scale

DATASETS = ("levir-cd-256", "levir-cd-1024", "dsifn-256")
SCALE_SETTINGS = (
    ("clean", "t2"),
    ("resolution-x2", "t2"),
    ("resolution-x4", "t2"),
    ("resolution-x8", "t2"),
    ("resolution-x4", "t1"),
    ("resolution-x8", "t1"),
)
OTHER_SETTINGS = (
    *((f"single-gaussian_noise-s{s}", "t2") for s in range(1, 6)),
    ("single-gaussian_noise-s3", "t1"),
    *((f"single-jpeg-s{s}", "t2") for s in (1, 3, 5)),
    ("single-gaussian_blur-s2", "t2"),
    ("single-motion_blur-s3", "t2"),
    ("single-haze-s3", "t2"),
    ("single-low_light-s3", "t2"),
    ("multi-x4", "t2"),
)
NOISE_TOLERANCE = 0.30
TARGETS = {"scale": 0.85, "date": 0.95, "noise": 0.80}


def degraded_copy(source: Path, work: Path, setting: str, date: str, seed: int) -> Path:
    """The degraded copy of ``source`` (reused when its manifest matches)."""
    out = work / source.name / f"{setting}@{date}"
    try:
        manifest = json.loads((out / MANIFEST).read_text())
        if (manifest["setting"], manifest["date"], manifest["seed"]) == (setting, date, seed):
            return out
    except (OSError, ValueError, KeyError):
        pass
    write_degraded_dataset(
        source, out, setting, seed=seed, date=date, overwrite=True, progress=False
    )
    return out


def truth_scale(setting: str, date: str) -> float:
    """The relative scale a setting makes (t2's effective GSD over t1's)."""
    if setting.startswith(("resolution-x", "multi-x")):
        scale = float(setting.rsplit("x", 1)[1])
        return scale if date == "t2" else 1 / scale
    return 1.0


def scale_right(measured: float, truth: float) -> bool:
    nearest = nearest_scale(measured)
    signed = nearest if measured >= 1 else 1 / nearest
    return math.isclose(signed, truth)


def evaluate(args: argparse.Namespace) -> dict[str, dict[str, list[bool]]]:
    rows: dict[str, dict[str, list[bool]]] = {}
    settings = [*SCALE_SETTINGS, *OTHER_SETTINGS]
    for dataset in args.datasets:
        source = args.data_root / dataset
        if not source.is_dir():
            print(f"skipped {dataset}: {source} not found", file=sys.stderr)
            continue
        for setting, date in settings:
            folder = (
                source
                if setting == "clean"
                else degraded_copy(source, args.work, setting, date, args.seed)
            )
            manifest = {} if setting == "clean" else json.loads((folder / MANIFEST).read_text())
            key = setting if date == "t2" else f"{setting}@t1"
            row = rows.setdefault(key, {"scale": [], "date": [], "noise": [], "setting": []})
            for result in inspect_dataset(folder):
                truth = truth_scale(setting, date)
                row["scale"].append(scale_right(result.relative_scale, truth))
                expected_date = "none" if setting == "clean" else date
                row["date"].append(result.degraded_date == expected_date)
                row["setting"].append(result.suggested_setting == key)
                if "gaussian_noise" in setting:
                    ops = manifest["images"][result.name]["ops"]
                    sigma = next(op["sigma_255"] for op in ops if op["op"] == "gaussian_noise")
                    measured = getattr(result, date).noise_sigma
                    row["noise"].append(abs(measured / sigma - 1) <= NOISE_TOLERANCE)
    return rows


def share(values: list[bool]) -> str:
    return f"{sum(values) / len(values):6.1%} ({sum(values)}/{len(values)})" if values else "-"


def report(rows: dict[str, dict[str, list[bool]]]) -> None:
    print(
        f"{'setting':32} {'scale right':>16} {'date right':>16} {'noise ±30%':>16} {'setting right':>16}"
    )
    for key, row in rows.items():
        print(
            f"{key:32} "
            + " ".join(f"{share(row[m]):>16}" for m in ("scale", "date", "noise", "setting"))
        )
    scale_keys = [s if d == "t2" else f"{s}@t1" for s, d in SCALE_SETTINGS]
    date_keys = [k for k in scale_keys if "x4" in k or "x8" in k]
    noise_keys = [f"single-gaussian_noise-s{s}" for s in range(2, 6)]
    gathered = {
        "scale": [v for k in scale_keys if k in rows for v in rows[k]["scale"]],
        "date": [v for k in date_keys if k in rows for v in rows[k]["date"]],
        "noise": [v for k in noise_keys if k in rows for v in rows[k]["noise"]],
    }
    print("\nacceptance targets")
    described = {
        "scale": "nearest scale right over clean, resolution x2/x4/x8 of t2, x4/x8 of t1",
        "date": "degraded date right over the x4 and x8 pairs",
        "noise": "t2 noise sigma within ±30 % over gaussian_noise s2-s5",
    }
    for metric, values in gathered.items():
        value = sum(values) / max(len(values), 1)
        verdict = "ok" if value >= TARGETS[metric] else "MISSED"
        print(f"  {described[metric]:72} {share(values)} target ≥ {TARGETS[metric]:.0%}: {verdict}")


def timing(args: argparse.Namespace) -> None:
    folder = args.data_root / "levir-cd-1024"
    if not folder.is_dir():
        print("no levir-cd-1024: time per 1024² pair not measured")
        return
    pairs = sorted((folder / "A").glob("*.png"))
    seconds = []
    for _ in range(args.repeats):
        for t1 in pairs:
            started = time.perf_counter()
            inspect_pair(t1, folder / "B" / t1.name)
            seconds.append(time.perf_counter() - started)
    print(
        f"\ntime per 1024² pair (one thread, files read included): median "
        f"{statistics.median(seconds):.3f} s, max {max(seconds):.3f} s over {len(seconds)} runs "
        "(target < 1 s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-root", type=Path, default=shared_data_dir(), help="(default: %(default)s)"
    )
    parser.add_argument("--datasets", type=lambda t: t.split(","), default=list(DATASETS))
    parser.add_argument("--work", type=Path, required=True, help="folder for the degraded copies")
    parser.add_argument("--seed", type=int, default=0, help="(default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="timing runs per pair")
    args = parser.parse_args()
    torch.set_num_threads(1)
    report(evaluate(args))
    timing(args)


if __name__ == "__main__":
    main()
