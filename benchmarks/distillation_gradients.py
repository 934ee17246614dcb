"""How strongly each distillation term pulls on the student, relative to the task loss.

For one distillation configuration, a teacher checkpoint and real training crops with t2
degraded on the fly: the student (the teacher's weights, or the ImageNet backbone with
``--student-init imagenet``) runs ``--batches`` training batches through ``StudentModule`` (the
path ``hicd fit`` takes). For every term, each (module, kind) group, each module and the whole
distillation loss it prints the weighted value, the norm of its gradient on the student's
encoder divided by the norm of the task loss's gradient (``L_CD``), and the cosine between the
two gradients, as medians over the batches. Run from the repository root::

    .venv/bin/python -m benchmarks.distillation_gradients --config '{"lambda_sfd": 1.0}'
    .venv/bin/python -m benchmarks.distillation_gradients --teacher T.ckpt --data DIR

Without ``--teacher`` it uses the teacher of the cross-validated study's first LEVIR-CD fold
(``test_7``) in the study's work folder ``--work``, training one there if absent, and that
fold's training blocks.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import warnings
from collections import defaultdict
from pathlib import Path

import lightning.pytorch as pl
import torch

from benchmarks.study.cli import DEFAULT_WORK
from benchmarks.study.configs import BUDGETS
from benchmarks.study.folds import build
from benchmarks.study.runs import data_module, train_teacher
from hicd.distillation import DistillationConfig
from hicd.distillation.batchnorm import recalibrate_batchnorm
from hicd.training.data import ChangeDataModule
from hicd.training.student import StudentModule


def _flat_grad(loss: torch.Tensor, params: list[torch.nn.Parameter]) -> torch.Tensor:
    grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
    return torch.cat(
        [
            (g if g is not None else torch.zeros_like(p)).flatten()
            for g, p in zip(grads, params, strict=True)
        ]
    )


def _groups(weights: dict[str, float]) -> dict[str, list[str]]:
    """Term names of every (module, kind) group, every module and the whole loss."""
    groups: dict[str, list[str]] = defaultdict(list)
    for name in weights:
        module, kind = name.split("/")[:2]
        groups[f"{module}/{kind.split('_')[0]} (all levels)"].append(name)
        groups[f"{module} (module)"].append(name)
        groups["distillation (total)"].append(name)
    return groups


def measure(module: StudentModule, loader, batches: int) -> dict[str, dict[str, list[float]]]:
    encoder = [p for p in module.model.encoder.parameters() if p.requires_grad]
    results: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    module.train()
    for index, batch in enumerate(loader):
        if index >= batches:
            break
        batch = module.degrade(batch)
        out = module.distiller(batch["t1"], batch["t2"], batch["student_t1"], batch["student_t2"])
        cd = module.task_terms(out.student.logits, batch["mask"])["cd"]
        task = _flat_grad(cd, encoder)
        task_norm = task.norm().item()
        results["L_CD"]["value"].append(cd.item())
        named = {name: [name] for name in out.weights} | _groups(out.weights)
        for label, names in named.items():
            loss = sum(out.weights[n] * out.terms[n] for n in names)
            grad = _flat_grad(loss, encoder)
            results[label]["value"].append(float(loss.detach()))
            results[label]["ratio"].append(grad.norm().item() / task_norm)
            cosine = torch.nn.functional.cosine_similarity(grad, task, dim=0).item()
            results[label]["cosine"].append(cosine)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="{}", help="DistillationConfig options as JSON")
    parser.add_argument("--teacher", type=Path, help="teacher checkpoint")
    parser.add_argument("--data", type=Path, help="generic-layout dataset with list/train.txt")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="the study's work folder")
    parser.add_argument("--setting", default="multi-x4")
    parser.add_argument("--student-init", choices=("teacher", "imagenet"), default="teacher")
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", ".*records no pretrained backbone.*")
    budget = BUDGETS["cpu"]
    if args.teacher is None:
        root = args.work / "data" / "levir"
        fold = build("levir", root)[0]
        args.teacher = args.work / "runs/levir" / fold.name / "cpu/teacher-s0/best.ckpt"
        if not args.teacher.is_file():
            _, args.teacher = train_teacher(args.work, root, fold, 0, budget, "cpu", [])
        data = data_module(root, fold, budget)
    else:
        data = ChangeDataModule(
            kind="generic", root=str(args.data), crop_size=budget.crop,
            batch_size=budget.batch, num_workers=0,
        )  # fmt: skip
    config = DistillationConfig(**json.loads(args.config))
    pl.seed_everything(0, verbose=False)
    module = StudentModule(
        str(args.teacher),
        init_from_teacher=args.student_init == "teacher",
        distillation=config,
        degradation=args.setting,
        crop_size=budget.crop,
    )
    loader = data.train_dataloader()
    if config.teacher_bn == "recalibrate":
        first = itertools.islice(loader, config.recalibrate_batches)
        pairs = ((batch["t1"], batch["t2"]) for batch in first)
        recalibrate_batchnorm(module.distiller.teacher, pairs)
    results = measure(module, loader, args.batches)
    print(
        f"teacher {args.teacher}, student from {args.student_init}, {args.setting}, "
        f"{args.batches} batches of {budget.batch}×{budget.crop}², config {args.config}"
    )
    print(f"L_CD median {statistics.median(results.pop('L_CD')['value']):.4f}")
    print(
        f"{'term or group':<34} {'weighted value':>14} {'|∇| / |∇L_CD|':>14} {'cos(∇, ∇L_CD)':>14}"
    )
    for label in sorted(results, key=lambda k: (k.count("/") == 2, k)):
        row = results[label]
        print(
            f"{label:<34} {statistics.median(row['value']):>14.5f} "
            f"{statistics.median(row['ratio']):>14.3f} {statistics.median(row['cosine']):>14.3f}"
        )


if __name__ == "__main__":
    main()
