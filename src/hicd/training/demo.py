"""The main job on the built-in default data: teacher, ``none`` and ``hicd`` students on synthetic
scenes, evaluated side by side on held-out pairs (``hicd demo`` / ``make demo``)."""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import lightning.pytorch as pl

from hicd.atomic import refuse_non_empty
from hicd.data.synthetic import write_synthetic_dataset
from hicd.defaults import SETTING
from hicd.distillation import DistillationConfig
from hicd.models.pretrained import require_backbone_weights
from hicd.training.config import NetworkConfig, OptimConfig, check_path
from hicd.training.data import ChangeDataModule
from hicd.training.runs import fit_best, fit_student, publish_checkpoint
from hicd.training.teacher import TeacherModule

SHARED = "shared"
"""``DemoConfig.pretrained`` value: the ImageNet MobileNetV2 file found by
``hicd.models.pretrained.require_backbone_weights`` (refused when absent)."""
RANDOM_HINT = ", or pass --pretrained none to train from random weights"


def resolve_pretrained(pretrained: str | None) -> str | None:
    """The backbone weights file of the demo: ``"shared"`` looks the ImageNet file up (a
    ``ConfigError`` naming where it looked when absent), a path must exist, None (random weights)
    is announced on stderr. Nothing is downloaded."""
    if pretrained is None:
        print(
            "hicd: note: the demo's backbone starts from random weights (--pretrained none)",
            file=sys.stderr,
            flush=True,
        )
        return None
    if pretrained == SHARED:
        return str(require_backbone_weights(RANDOM_HINT))
    check_path("--pretrained", pretrained, f"; give a weights file, {SHARED} or none")
    return pretrained


@dataclass
class DemoConfig:
    """Sizes and budgets of the demo; ``quick()`` is the smoke-test variant.

    ``pretrained``: the backbone weights, ``"shared"`` (the ImageNet MobileNetV2 file from
    ``$HICD_SHARED_WEIGHTS``, ``../shared/weights`` beside a checkout or torch's hub cache; the
    demo refuses to start without it), a weights file, or None (random weights, announced).
    """

    train_pairs: int = 96
    val_pairs: int = 16
    test_pairs: int = 24
    image_size: int = 256
    crop_size: int = 128
    batch_size: int = 8
    teacher_steps: int = 200
    student_steps: int = 200
    val_every: int = 50
    lr: float = 1e-3
    degradation: str = SETTING
    settings: str = "clean,resolution-x4,multi-x4"
    students: dict[str, DistillationConfig] = field(
        default_factory=lambda: {
            "none": DistillationConfig(method="none"),
            "hicd": DistillationConfig(method="hicd"),
        }
    )
    seed: int = 0
    pretrained: str | None = SHARED

    @classmethod
    def quick(cls) -> DemoConfig:
        return cls(
            train_pairs=8,
            val_pairs=2,
            test_pairs=3,
            image_size=64,
            crop_size=64,
            batch_size=4,
            teacher_steps=3,
            student_steps=3,
            val_every=3,
        )


def run_demo(
    out: str | Path = "demo-output", config: DemoConfig | None = None, overwrite: bool = False
) -> list[dict]:
    """Train the teacher and the students, evaluate them and write everything to ``out``.

    ``out`` receives ``teacher.ckpt`` and one checkpoint per student (``none.ckpt``,
    ``hicd.ckpt``), ``results.json``/``.csv``/``.md``, ``robustness.png`` and
    ``examples.png``; intermediate runs and the generated data go to ``out/work``. A non-empty
    ``out`` is refused unless ``overwrite``: then the demo's files (and its ``work`` folder) are
    replaced and nothing else in ``out`` is deleted.
    """
    from hicd.evaluation import evaluate_checkpoints

    config = config or DemoConfig()
    out = Path(out)
    refuse_non_empty(out, overwrite, hint=" (make demo DEMO_ARGS=--overwrite), or another --out")
    pretrained = resolve_pretrained(config.pretrained)
    work = out / "work"
    if overwrite and (work / "data" / "list").is_dir():
        shutil.rmtree(work)  # the previous demo's scratch runs and data, not reused
    started = time.perf_counter()
    pl.seed_everything(config.seed, workers=True, verbose=False)
    data_root = write_synthetic_dataset(
        work / "data",
        splits={"train": config.train_pairs, "val": config.val_pairs, "test": config.test_pairs},
        size=config.image_size,
        seed=config.seed,
    )
    data = ChangeDataModule(
        kind="generic",
        root=str(data_root),
        crop_size=config.crop_size,
        batch_size=config.batch_size,
        num_workers=0,
    )
    network = NetworkConfig(pretrained=pretrained, options={"decoder_channels": 32})
    optim = OptimConfig(
        lr=config.lr, schedule="cosine", warmup_steps=max(1, config.teacher_steps // 10)
    )
    print(f"[demo] backbone weights: {pretrained or 'random'}", flush=True)
    print(f"[demo] teacher on clean pairs ({config.teacher_steps} steps)", flush=True)
    teacher = TeacherModule(network=network, optim=optim, crop_size=config.crop_size)
    best = fit_best(teacher, data, config.teacher_steps, work / "teacher", config.val_every)
    checkpoints = {"teacher": publish_checkpoint(best, out / "teacher.ckpt")}
    for name, distillation in config.students.items():
        print(
            f"[demo] student '{name}' on {config.degradation} pairs ({config.student_steps} steps)",
            flush=True,
        )
        best = fit_student(
            checkpoints["teacher"],
            distillation,
            config.degradation,
            data,
            optim,
            config.student_steps,
            work / name,
            seed=config.seed + 1,
            degradation_seed=config.seed,
            crop_size=config.crop_size,
            val_every=config.val_every,
        )
        checkpoints[name] = publish_checkpoint(best, out / f"{name}.ckpt")
    print("[demo] evaluating on held-out pairs", flush=True)
    rows = evaluate_checkpoints(
        list(checkpoints.values()),
        data_root,
        split="test",
        settings=config.settings,
        out=out,
        names=list(checkpoints),
        seed=config.seed,
        overwrite=overwrite,
    )
    print(f"[demo] done in {time.perf_counter() - started:.0f} s; results in {out}", flush=True)
    return rows
