"""A real-data study on LEVIR-CD samples: teacher and none/feature/logit/hicd students.

Training: the two 1024×1024 tiles of ``../shared/data/levir-cd-1024``. Validation (checkpoint
choice): the ``train_*``/``val_*`` crops of ``levir-cd-256``. Test: its ``test_*`` crops that do
not lie inside those two tiles (``test_2_*``, ``test_55_*``, ``test_77_*``, ``test_121_*``).
Backbone: the ImageNet MobileNetV2 in ``../shared/weights``. For each seed, one teacher on clean
pairs (random 128² crops of the two tiles, kept decoded in memory) and one student per method and
setting. Within the hour, students start from the teacher's weights and fine-tune at a lower
learning rate (``--student-init imagenet`` starts them from the ImageNet backbone instead, as the
paper's long schedules do; see docs/benchmarks.md for why not here). Checkpoints are chosen on the validation crops; every one is evaluated with
``hicd.evaluation.evaluate_checkpoints`` (native resolution, one confusion matrix). Prints the
mean ± std over seeds of the change-class F1 and IoU as a markdown table::

    .venv/bin/python benchmarks/real_study.py                   # 3 seeds, about an hour on 2 cores
    .venv/bin/python benchmarks/real_study.py --quick           # a smoke run of a few minutes
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import lightning.pytorch as pl
import torch

from hicd.distillation import DistillationConfig
from hicd.evaluation import evaluate_checkpoints
from hicd.training.config import NetworkConfig, OptimConfig
from hicd.training.data import ChangeDataModule
from hicd.training.runs import fit_best, fit_student
from hicd.training.teacher import TeacherModule

SHARED = Path(__file__).resolve().parents[2] / "shared"
TEST_TILES = ("test_2_", "test_55_", "test_77_", "test_121_")
METHODS = ("none", "feature", "logit", "hicd")


def build_study_dataset(root: Path) -> Path:
    """A generic-layout folder of links to the shared files, with train/val/test lists."""
    splits: dict[str, list[str]] = defaultdict(list)
    for source, rule in (("levir-cd-1024", lambda n: "train"), ("levir-cd-256", _crop_split)):
        for image in sorted((SHARED / "data" / source / "A").glob("*.png")):
            split = rule(image.stem)
            if split is None:
                continue
            for folder in ("A", "B", "label"):
                (root / folder).mkdir(parents=True, exist_ok=True)
                (root / folder / image.name).symlink_to(
                    SHARED / "data" / source / folder / image.name
                )
            splits[split].append(image.name)
    (root / "list").mkdir(exist_ok=True)
    for split, names in splits.items():
        (root / "list" / f"{split}.txt").write_text("".join(f"{n}\n" for n in names))
    return root


def spread(values: list[float]) -> float:
    """Sample standard deviation (0 for a single value)."""
    return statistics.stdev(values) if len(values) > 1 else 0.0


def _crop_split(stem: str) -> str | None:
    if stem.startswith(("train_", "val_")):
        return "val"
    if stem.startswith(TEST_TILES):
        return "test"
    return None  # test_7_* and test_102_* lie inside the training tiles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--teacher-steps", type=int, default=300)
    parser.add_argument("--student-steps", type=int, default=150)
    parser.add_argument("--val-every", type=int, default=25)
    parser.add_argument(
        "--student-init",
        choices=("teacher", "imagenet"),
        default="teacher",
        help="start students from the teacher's weights or from the ImageNet backbone",
    )
    parser.add_argument("--student-lr", type=float, default=5e-4)
    parser.add_argument("--settings", default="resolution-x4,multi-x4")
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=None, help="keep runs here (default: a temporary folder)")
    parser.add_argument("--quick", action="store_true", help="1 seed, a few steps")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.teacher_steps, args.student_steps, args.val_every = 1, 4, 4, 4
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    settings = args.settings.split(",")
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(args.out or scratch)
        data_root = build_study_dataset(work / "data")
        weights = SHARED / "weights" / "mobilenet_v2-b0353104.pth"
        network = NetworkConfig(pretrained=str(weights), options={"decoder_channels": 64})
        optim = OptimConfig(lr=1e-3, schedule="cosine", warmup_steps=20)
        student_optim = OptimConfig(lr=args.student_lr, schedule="cosine", warmup_steps=10)
        scores: dict[tuple[str, str], list[dict]] = defaultdict(list)
        for seed in range(args.seeds):
            data = ChangeDataModule(
                kind="generic",
                root=str(data_root),
                crop_size=args.crop,
                batch_size=args.batch,
                num_workers=0,
                eval_tile=256,
                crops_per_image=64,  # two 1024 tiles: 16 full batches an epoch
                cache_images=True,  # decoding a 1024 PNG costs more than a training step
            )
            pl.seed_everything(seed, workers=True, verbose=False)
            teacher = TeacherModule(
                network=network, optim=optim, crop_size=args.crop, eval_tile=256
            )
            teacher_ckpt = fit_best(
                teacher, data, args.teacher_steps, work / f"s{seed}/teacher", args.val_every, False
            )
            checkpoints = {"teacher": teacher_ckpt}
            for setting in settings:
                for method in METHODS:
                    checkpoints[f"{method}@{setting}"] = fit_student(
                        teacher_ckpt,
                        DistillationConfig(method=method),
                        setting,
                        data,
                        student_optim,
                        args.student_steps,
                        work / f"s{seed}/{method}-{setting}",
                        seed=seed + 1,
                        init_from_teacher=args.student_init == "teacher",
                        crop_size=args.crop,
                        eval_tile=256,
                        val_every=args.val_every,
                        progress=False,
                    )
            rows = evaluate_checkpoints(
                list(checkpoints.values()),
                data_root,
                split="test",
                settings=",".join(["clean", *settings]),
                names=list(checkpoints),
                tile=256,
                seed=0,
                progress=False,
            )
            for row in rows:
                trained_on = row["model"].split("@")[-1]
                if row["model"] == "teacher" or row["setting"] == trained_on:
                    scores[(row["model"].split("@")[0], row["setting"])].append(row)
            print(f"seed {seed} done after {time.perf_counter() - started:.0f} s", flush=True)

    print(
        f"\nLEVIR-CD study: {args.seeds} seeds, teacher {args.teacher_steps} steps, students "
        f"{args.student_steps} steps from {args.student_init} weights at lr {args.student_lr}, "
        f"crops {args.crop}, run time {time.perf_counter() - started:.0f} s\n"
    )
    print("| model | test setting | F1 (mean ± std) | IoU (mean ± std) |")
    print("|:---|:---|---:|---:|")
    for (model, setting), rows in sorted(
        scores.items(),
        key=lambda item: (item[0][1], METHODS.index(item[0][0]) if item[0][0] in METHODS else -1),
    ):
        f1s, ious = [100 * r["f1"] for r in rows], [100 * r["iou"] for r in rows]
        print(
            f"| {model} | {setting} | {statistics.mean(f1s):.2f} ± {spread(f1s):.2f} | "
            f"{statistics.mean(ious):.2f} ± {spread(ious):.2f} |"
        )
    print(
        "\n" + json.dumps({f"{m}|{s}": [r["f1"] for r in rows] for (m, s), rows in scores.items()})
    )


if __name__ == "__main__":
    main()
