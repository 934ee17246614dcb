"""Evaluation F1 under two window overlaps: does a smaller overlap change the scores?

Prediction and evaluation share one tiling rule (``hicd.defaults.overlap_for``). This scores
each fold teacher of the cross-validated study (``python -m benchmarks.study --run`` trains
them; their checkpoints stay in its work folder) on its held-out LEVIR-CD tile, clean and
degraded, with the windows overlapping by a quarter of the tile (hicd 0.2.0) and by today's
default (``overlap_for``: an eighth, at least 64 px, at most a quarter), and prints the F1
pooled over the six tiles (one confusion matrix) for each.

    .venv/bin/python benchmarks/overlap_f1.py                   # the study's folder
    .venv/bin/python benchmarks/overlap_f1.py --work /tmp/w --tiles 128 512 --rules 4 8
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import torch

from hicd.evaluation.statistics import f1_from_counts


def pooled_f1(cells: np.ndarray) -> float:
    """F1 of the change class from summed [tp, fp, tn, fn] cells, in percent."""
    return 100 * float(f1_from_counts(cells.sum(axis=0)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--work",
        type=Path,
        default=Path(os.environ.get("HICD_STUDY_WORK", "/work/hicd-study")),
        help="the study's work folder (its data/levir and fold teachers)",
    )
    parser.add_argument("--tiles", type=int, nargs="+", default=[512, 1024])
    parser.add_argument(
        "--rules",
        nargs="+",
        default=["4", "default"],
        help="overlaps: N (the tile divided by N) or default (hicd.defaults.overlap_for)",
    )
    parser.add_argument("--settings", default="clean,multi-x4")
    args = parser.parse_args()

    from hicd.defaults import overlap_for
    from hicd.evaluation import evaluate_checkpoints

    def overlap(tile: int, rule: str) -> int:
        return overlap_for(tile) if rule == "default" else tile // int(rule)

    torch.set_num_threads(2)
    root = args.work / "data" / "levir"
    teachers = sorted((args.work / "runs" / "levir").glob("*/cpu/teacher-s0/best.ckpt"))
    if not teachers:
        raise SystemExit(f"{args.work}: no fold teachers; run python -m benchmarks.study --run")
    settings = args.settings.split(",")
    pooled: dict[tuple[int, int, str], list] = {}
    for checkpoint in teachers:
        fold = checkpoint.parents[2].name
        for tile in args.tiles:
            for rule in args.rules:
                rows = evaluate_checkpoints(
                    [checkpoint], root, split=f"{fold}-test", settings=args.settings,
                    tile=tile, overlap=overlap(tile, rule), examples=0, progress=False, cell=256,
                )  # fmt: skip
                for row in rows:
                    pooled.setdefault((tile, rule, row["setting"]), []).extend(row["cells"])
        print(f"{fold}: scored", flush=True)
    print(f"\n{len(teachers)} fold teachers, each on its held-out tile; pooled F1 (%)")
    names = [f"overlap {r}" if r == "default" else f"overlap tile/{r}" for r in args.rules]
    print("| tile | setting | " + " | ".join(names) + " | difference |")
    print("|---|---|" + "---|" * (len(args.rules) + 1))
    for tile in args.tiles:
        names = " / ".join(str(overlap(tile, r)) for r in args.rules)
        for setting in settings:
            scores = [pooled_f1(np.array(pooled[tile, r, setting])) for r in args.rules]
            cells = " | ".join(f"{s:.2f}" for s in scores)
            print(f"| {tile} ({names} px) | {setting} | {cells} | {scores[-1] - scores[0]:+.2f} |")


if __name__ == "__main__":
    main()
