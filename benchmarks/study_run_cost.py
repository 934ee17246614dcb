"""Where the time of one study run goes, and what a cheaper training step would buy.

Part 1 trains, in a temporary work folder, the study's teacher of one LEVIR-CD fold and two of
its students (``scratch`` ``none`` and ``hicd`` by default) exactly as ``python -m
benchmarks.study --run`` does (``benchmarks.study.runs``), with a timer on Lightning's hooks:
training steps (forward, backward, optimiser and EMA update), validation, the rest of the loop
(fetching and degrading batches, checkpoints, logging), setup and scoring. ``bound`` is the
speed-up the run would get if everything but its training steps took no time: a lever that keeps
the numerics (faster validation, cached data, less overhead) cannot do better than that.

Part 2 times the study's training step itself (siam_fpn, decoder 64, batch 8, 128², the
``hicd`` student step and the ``none`` step) under the levers that change the numerics:
channels-last, bf16 autocast (AMX on this CPU), both; interleaved in one process, so the
ratios are side by side. Run from the repository root with nothing else running::

    .venv/bin/python -m benchmarks.study_run_cost                    # ~7 min on 2 cores
    .venv/bin/python -m benchmarks.study_run_cost --students none    # teacher + one student
    .venv/bin/python -m benchmarks.study_run_cost --levers-only      # part 2 only, ~1 min
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import lightning.pytorch as pl
import torch

from hicd.distillation import DistillationConfig, Distiller
from hicd.models import create_model

from .shared import shared_data_dir
from .study.configs import BUDGETS, REGIMES
from .study.folds import build
from .study.runs import train_student, train_teacher
from .train_step import make_step, timed

SETTING = "multi-x4"


class PhaseTimer(pl.Callback):
    """Seconds spent in training steps, in validation and in the whole training loop."""

    def __init__(self) -> None:
        self.steps = self.validation = 0.0
        self.loop_start = self.loop_end = self._mark = 0.0
        self.batches = self.validations = 0

    def on_train_start(self, trainer, pl_module) -> None:
        self.loop_start = time.perf_counter()

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._mark = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.steps += time.perf_counter() - self._mark
        self.batches += 1

    def on_validation_start(self, trainer, pl_module) -> None:
        self._mark = time.perf_counter()

    def on_validation_end(self, trainer, pl_module) -> None:
        self.validation += time.perf_counter() - self._mark
        self.validations += 1

    def on_train_end(self, trainer, pl_module) -> None:
        self.loop_end = time.perf_counter()


def phases(record: dict, timer: PhaseTimer) -> dict[str, float]:
    loop = timer.loop_end - timer.loop_start
    return {
        "steps": timer.steps,
        "validation": timer.validation,
        "rest of loop": loop - timer.steps - timer.validation,
        "setup": record["seconds"] - loop,
        "scoring": record["score_seconds"],
    }


def print_run(name: str, parts: dict[str, float]) -> None:
    total = sum(parts.values())
    shares = "  ".join(
        f"{key} {value:6.1f} s ({value / total:4.0%})" for key, value in parts.items()
    )
    print(f"{name:16s} {total:6.1f} s   {shares}   bound {total / parts['steps']:.2f}×", flush=True)


def run_cost(fold_name: str, students: list[str], recipe: str) -> None:
    budget, regime = BUDGETS["cpu"], REGIMES["cpu"][recipe]
    with tempfile.TemporaryDirectory(prefix="hicd-run-cost-") as work_dir:
        work = Path(work_dir)
        root = work / "data" / "levir"
        fold = next(f for f in build("levir", root, shared_data_dir()) if f.name == fold_name)
        timer = PhaseTimer()
        teacher, checkpoint = train_teacher(
            work, root, fold, 0, budget, "cpu", [SETTING], callbacks=[timer]
        )
        totals = phases(teacher, timer)
        print_run("teacher", totals)
        for label in students:
            timer = PhaseTimer()
            record = train_student(
                work, root, fold, teacher, checkpoint, (recipe, regime), SETTING, label, 0,
                budget, "cpu", callbacks=[timer],
            )  # fmt: skip
            parts = phases(record, timer)
            print_run(f"{recipe} {label}", parts)
            totals = {key: totals[key] + parts[key] for key in totals}
        print_run("all runs", totals)


def lever_steps(repeats: int) -> None:
    budget = BUDGETS["cpu"]
    shape = (budget.batch, 3, budget.crop, budget.crop)
    batch = {
        "clean_t1": torch.rand(shape), "clean_t2": torch.rand(shape),
        "degraded_t1": torch.rand(shape), "degraded_t2": torch.rand(shape),
        "mask": torch.randint(0, 2, shape[:1] + shape[2:]),
    }  # fmt: skip
    last = {
        k: v.contiguous(memory_format=torch.channels_last) for k, v in batch.items() if v.ndim == 4
    }
    steps: dict[str, Callable[[], None]] = {}
    for layout in ("fp32", "channels-last"):
        teacher = create_model("siam_fpn", decoder_channels=64).eval()
        student = create_model("siam_fpn", decoder_channels=64)
        inputs = batch if layout == "fp32" else {**batch, **last}
        if layout == "channels-last":
            teacher, student = (m.to(memory_format=torch.channels_last) for m in (teacher, student))
        for method in ("none", "hicd"):
            distiller = Distiller(
                student, teacher if method == "hicd" else None, DistillationConfig(method=method)
            ).train()
            steps[f"{method} {layout}"] = make_step(distiller, inputs)
    for name in list(steps):
        plain = steps[name]

        def autocast(step: Callable[[], None] = plain) -> None:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                step()

        steps[name.replace("fp32", "bf16").replace("channels-last", "bf16 channels-last")] = (
            autocast
        )
    for step in steps.values():
        step()  # warm-up (oneDNN primitives, autocast caches)
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            times[name].append(timed(step))
    print(f"training step, batch {budget.batch}, {budget.crop}², median of {repeats} (interleaved)")
    for method in ("none", "hicd"):
        reference = statistics.median(times[f"{method} fp32"])
        for name in (n for n in steps if n.startswith(method)):
            median = statistics.median(times[name])
            print(f"  {name:26s} {median:6.3f} s   {reference / median:5.2f}× fp32")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fold", default="test_7")
    parser.add_argument("--recipe", choices=("scratch", "finetune"), default="scratch")
    parser.add_argument("--students", nargs="*", default=["none", "hicd"])
    parser.add_argument("--repeats", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--levers-only", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{torch.get_num_threads()} threads, torch {torch.__version__}")
    if not args.levers_only:
        run_cost(args.fold, args.students, args.recipe)
    lever_steps(args.repeats)


if __name__ == "__main__":
    main()
