"""Choose the distillation weights on the synthetic benchmark: none vs hicd students.

A siam_fpn teacher (ImageNet MobileNetV2 from ../shared/weights) learns on clean synthetic pairs
(96 training scenes, 128×128 crops, batch 8); students learn on the same crops with t2 degraded
by random multi-x4 chains, each run with the same seeds, and are scored (one global confusion
matrix) on 24 held-out 256×256 scenes degraded deterministically. The recorded run (docs/method.md)::

    .venv/bin/python benchmarks/distillation_weights.py --threads 1 --teacher-steps 200 \\
        --student-steps 200 --configs '{"none": {"method": "none"}, "hicd": {"method": "hicd", \\
        "lambda_sfd": 1.0, "lambda_cfd": 1.0}}'

``"init": "teacher"`` in a config starts that student from the teacher's weights. The teacher is
cached in --cache so later configs reuse it.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import torch

from hicd.data.synthetic import SyntheticChangeDataset
from hicd.degradations import DegradationSetting, Degrader
from hicd.distillation import DistillationConfig, Distiller
from hicd.distillation.task_loss import change_detection_loss
from hicd.metrics import ChangeMetrics
from hicd.models import create_model

WEIGHTS = Path(__file__).resolve().parents[2] / "shared/weights/mobilenet_v2-b0353104.pth"
CROP, BATCH = 128, 8


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--teacher-steps", type=int, default=200)
    parser.add_argument("--student-steps", type=int, default=200)
    parser.add_argument(
        "--configs", default='{"none": {"method": "none"}, "hicd": {"method": "hicd"}}'
    )
    parser.add_argument("--cache", default="/tmp/hicd-weights-teacher.pt")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    train = SyntheticChangeDataset(96, size=CROP, seed=1)
    test = SyntheticChangeDataset(24, size=256, seed=2)
    train_items = [train[i] for i in range(len(train))]
    test_items = [test[i] for i in range(len(test))]
    setting = DegradationSetting.parse("multi-x4")
    random_degrader = Degrader(setting, seed=None)
    t1_test = torch.stack([s["t1"] for s in test_items])
    t2_test = torch.stack([s["t2"] for s in test_items])
    mask_test = torch.stack([s["mask"] for s in test_items])
    t2_test_degraded, _ = Degrader(setting, seed=0)(t2_test, names=[s["name"] for s in test_items])

    def batches(steps: int, seed: int):
        generator = torch.Generator().manual_seed(seed)
        for _ in range(steps):
            index = torch.randint(0, len(train_items), (BATCH,), generator=generator)
            t1, t2, mask = (
                torch.stack([train_items[i][k] for i in index]) for k in ("t1", "t2", "mask")
            )
            if torch.rand((), generator=generator) < 0.5:
                t1, t2, mask = t1.flip(-1), t2.flip(-1), mask.flip(-1)
            k = int(torch.randint(0, 4, (), generator=generator))
            yield (torch.rot90(x, k, (-2, -1)) for x in (t1, t2, mask))

    def f1(model: torch.nn.Module, t2: torch.Tensor) -> float:
        model.eval()
        metric = ChangeMetrics()
        with torch.no_grad():
            for i in range(0, len(t1_test), 8):
                metric.update(model(t1_test[i : i + 8], t2[i : i + 8]).logits, mask_test[i : i + 8])
        model.train()
        return round(float(metric.compute()["f1"]), 4)

    def train(parameters, steps: int, seed: int, loss_of) -> float:
        """AdamW with a one-cycle schedule over ``steps`` batches; returns the seconds taken."""
        optimizer = torch.optim.AdamW(parameters, lr=1e-3, weight_decay=1e-4)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=1e-3, total_steps=steps, pct_start=0.1
        )
        start = time.time()
        for t1, t2, mask in batches(steps, seed):
            loss = loss_of(t1, t2, mask)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
        return time.time() - start

    def teacher_loss(teacher):
        def loss_of(t1, t2, mask):
            return change_detection_loss(teacher(t1, t2).logits, mask, 255, 0.0)["cd"]

        return loss_of

    def student_loss(distiller):
        def loss_of(t1, t2, mask):
            degraded, _ = random_degrader(t2)
            return distiller(t1, t2, t1, degraded, mask).loss

        return loss_of

    def report(name: str, seconds: float, model: torch.nn.Module) -> None:
        clean, degraded = f1(model, t2_test), f1(model, t2_test_degraded)
        print(name, round(seconds), "s clean", clean, "degraded", degraded, flush=True)

    torch.manual_seed(0)
    teacher = create_model(pretrained=WEIGHTS)
    if Path(args.cache).is_file():
        teacher.load_state_dict(torch.load(args.cache))
    else:
        seconds = train(teacher.parameters(), args.teacher_steps, 0, teacher_loss(teacher))
        report("teacher", seconds, teacher)
        torch.save(teacher.state_dict(), args.cache)

    for name, options in json.loads(args.configs).items():
        torch.manual_seed(1)
        init = options.pop("init", "imagenet")
        student = create_model(pretrained=WEIGHTS)
        if init == "teacher":
            student.load_state_dict(teacher.state_dict())
        distiller = Distiller(
            student, copy.deepcopy(teacher), DistillationConfig(**options)
        ).train()
        seconds = train(
            distiller.student_parameters(), args.student_steps, 1, student_loss(distiller)
        )
        report(name, seconds, student)


if __name__ == "__main__":
    main()
