"""Cost of one student training step with ``hicd`` distillation over the same step with ``none``.

Same model, batch and input size; both steps run interleaved in one process so the ratio is
measured side by side. Also prints the share of the ``hicd`` step spent in the correlation
losses (their forward and backward, timed on the captured features) and in the teacher's
forward pass, which is the floor of any teacher-student method. Run from the repository root::

    .venv/bin/python benchmarks/train_step.py                 # siam_fpn, batch 8, 256×256
    .venv/bin/python benchmarks/train_step.py --model bit --batch 4 --size 128
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from hicd.distillation import DistillationConfig, Distiller
from hicd.models import create_model
from hicd.models.losses import TaskLossConfig


def make_step(distiller: Distiller, batch: dict[str, torch.Tensor]):
    """One training step: L_CD on the student's logits plus the Distiller's terms."""
    optimizer = torch.optim.AdamW(distiller.student_parameters(), lr=1e-4)
    images = {key: value for key, value in batch.items() if key != "mask"}
    task_loss = TaskLossConfig()

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        out = distiller(**images)
        (task_loss(out.student.logits, batch["mask"])["cd"] + out.loss).backward()
        optimizer.step()

    return step


def timed(function, repeats: int = 1) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        function()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="siam_fpn")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    teacher = create_model(args.model)
    student = create_model(args.model)
    shape = (args.batch, 3, args.size, args.size)
    batch = {
        "clean_t1": torch.rand(shape),
        "clean_t2": torch.rand(shape),
        "degraded_t1": torch.rand(shape),
        "degraded_t2": torch.rand(shape),
        "mask": torch.randint(0, 2, (args.batch, args.size, args.size)),
    }
    hicd = Distiller(student, teacher, DistillationConfig(method="hicd")).train()
    none = Distiller(student, None, DistillationConfig(method="none")).train()
    steps = {"none": make_step(none, batch), "hicd": make_step(hicd, batch)}
    for step in steps.values():
        step()  # warm-up
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(args.repeats):
        for name, step in steps.items():
            times[name].append(timed(step))

    with torch.no_grad():
        teacher_out = teacher(batch["clean_t1"], batch["clean_t2"])
        student_out = student(batch["degraded_t1"], batch["degraded_t2"])
    for features in (student_out.features_t1, student_out.features_t2, student_out.change_features):
        for index, tensor in enumerate(features):
            features[index] = tensor.detach().requires_grad_(True)

    def correlation_losses() -> None:
        hicd.objective(student_out, teacher_out).total.backward()

    correlation = statistics.median(timed(correlation_losses) for _ in range(args.repeats))
    teacher_forward = statistics.median(
        timed(lambda: teacher(batch["clean_t1"], batch["clean_t2"])) for _ in range(args.repeats)
    )
    none_step, hicd_step = (statistics.median(times[name]) for name in ("none", "hicd"))
    print(
        f"model {args.model}, batch {args.batch}, {args.size}×{args.size}, {args.threads} threads, median of {args.repeats}"
    )
    print(f"none step            {none_step:8.3f} s")
    print(f"hicd step            {hicd_step:8.3f} s")
    print(f"hicd / none          {hicd_step / none_step:8.2f} ×   (target ≤ 1.5)")
    print(f"correlation share    {correlation / hicd_step:8.1%}   ({correlation:.3f} s fwd+bwd)")
    print(
        f"teacher forward share{teacher_forward / hicd_step:8.1%}   ({teacher_forward:.3f} s, under no_grad)"
    )


if __name__ == "__main__":
    main()
