"""``python -m benchmarks.study``: run the plan where the records stop, or print the report.

.venv/bin/python -m benchmarks.study --run               # continue the plan (hours)
.venv/bin/python -m benchmarks.study --report            # tables from the records only
.venv/bin/python -m benchmarks.study --quick --results /tmp/r --work /tmp/w  # smoke test
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from pathlib import Path

import torch

from hicd.atomic import write_text_atomic

from . import records
from .configs import BUDGETS, CORE, PLAN, REGIMES, Budget, Entry
from .plan import Study, run_plan
from .report import report

DEFAULT_WORK = Path(os.environ.get("HICD_STUDY_WORK", "/work/hicd-study"))
QUICK_PLAN = (
    Entry("quick", "levir", "multi-x4", ("none", "hicd", "hicd +unlabelled"), (0,), ("finetune",),
          ("test_7",)),
    Entry("quick sztaki", "sztaki", "multi-x4", CORE, (0,), ("finetune",), ("k0",)),
)  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.study", description=__doc__)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--run", action="store_true", help="continue the plan")
    action.add_argument("--report", action="store_true", help="print the tables of the records")
    action.add_argument(
        "--quick", action="store_true",
        help="smoke test: none, hicd (and hicd +unlabelled) fine-tuned for 2 steps on one fold "
        "of LEVIR-CD and one of SZTAKI",
    )  # fmt: skip
    parser.add_argument("--results", type=Path, default=records.RESULTS, help="record folder")
    parser.add_argument(
        "--work", type=Path, default=DEFAULT_WORK,
        help="blocks and checkpoints (never committed; default $HICD_STUDY_WORK or %(default)s)",
    )  # fmt: skip
    parser.add_argument("--budget", choices=sorted(BUDGETS), default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--minutes", type=float, help="start no run after this many minutes (the GPU plan)"
    )
    parser.add_argument("--out", type=Path, help="also write the report to this file")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.report:
        text = report(records.load(args.results), args.budget)
        if args.out:
            command = f"python -m benchmarks.study --report --budget {args.budget} --out {args.out}"
            write_text_atomic(args.out, f"<!-- made by `{command}`: do not edit -->\n\n{text}\n")
        print(text)
        return
    deadline = None if args.minutes is None else time.monotonic() + 60 * args.minutes
    plan = PLAN
    if args.quick:
        BUDGETS["quick"] = Budget(teacher_steps=2, val_every=2, batch=2, crop=64)
        REGIMES["quick"] = {
            name: dataclasses.replace(regime, steps=2, lr_warmup=0)
            for name, regime in REGIMES["cpu"].items()
        }
        args.budget, plan = "quick", QUICK_PLAN
    study = Study(args.work, args.results, args.budget, deadline)
    started = time.perf_counter()
    run_plan(study, plan)
    print(
        f"plan: {study.trained} runs trained in {time.perf_counter() - started:.0f} s", flush=True
    )
    print(report(records.load(args.results), args.budget))
