"""How strongly each distillation term pulls on the student, relative to the task loss.

For one distillation configuration, a teacher checkpoint and real training crops with t2
degraded on the fly: the student (the teacher's weights, or the ImageNet backbone with
``--student-init imagenet``) runs ``--batches`` training batches through ``StudentModule`` (the
path ``hicd fit`` takes). For every term, each (module, kind) group, each module and the whole
distillation loss it prints the weighted value, the norm of its gradient on the student's
encoder divided by the norm of the task loss's gradient (``L_CD``), and the cosine between the
two gradients, as medians over the batches. Run from the repository root::

    .venv/bin/python benchmarks/distillation_gradients.py --config '{"lambda_sfd": 1.0}'
    .venv/bin/python benchmarks/distillation_gradients.py --teacher T.ckpt --data DIR

Without ``--teacher`` it uses (and trains, if absent) the LEVIR-CD teacher of seed 0 of
``python -m benchmarks.real_study`` under ``--out``.
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

import real_study
from hicd.distillation import DistillationConfig
from hicd.distillation.batchnorm import recalibrate_batchnorm
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
        out = module.distiller(
            batch["t1"], batch["t2"], batch["student_t1"], batch["student_t2"], batch["mask"]
        )
        task = _flat_grad(out.terms["cd"], encoder)
        task_norm = task.norm().item()
        results["L_CD"]["value"].append(out.terms["cd"].item())
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
    parser.add_argument("--out", type=Path, default=Path("/tmp/hicd-study"))
    parser.add_argument("--setting", default="multi-x4")
    parser.add_argument("--student-init", choices=("teacher", "imagenet"), default="teacher")
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", ".*records no pretrained backbone.*")
    budget = real_study.Budget()
    if args.teacher is None:
        record = real_study.teacher_run(args.out, "levir", 0, budget, [])
        args.teacher = Path(record["checkpoint"])
        args.data = real_study.dataset_root(args.out, "levir")
    config = DistillationConfig(**json.loads(args.config))
    pl.seed_everything(0, verbose=False)
    module = StudentModule(
        str(args.teacher),
        init_from_teacher=args.student_init == "teacher",
        distillation=config,
        degradation=args.setting,
        crop_size=budget.crop,
    )
    data = real_study._data(args.data, budget)
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
