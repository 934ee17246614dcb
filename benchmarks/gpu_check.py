"""What holds on a machine with a GPU: mixed-precision training steps, DDP, prediction on CUDA.

One short prepared script (not part of the tests), a few minutes on one GPU, no downloads:

- ``teacher``/``student`` steps with ``bf16-mixed`` and ``16-mixed`` on CUDA (generated scenes,
  a few optimiser steps): every logged loss is finite and the weights changed;
- ``hicd fit`` of a teacher with ``--trainer.strategy ddp`` on 2 GPUs (skipped with 1 GPU):
  exit 0, the checkpoint's global step, finite validation F1;
- ``hicd predict`` of a generated GeoTIFF pair on CUDA and on the CPU: probabilities' largest
  absolute difference and agreement of the 0/1 maps.

It prints one row per check (held / failed / skipped, with its figures) and exits 1 if any
failed. The backbone starts from the ImageNet MobileNetV2 file that hicd finds
(``$HICD_SHARED_WEIGHTS``, else ``../shared/weights`` beside the checkout, else torch's hub
cache: ``hicd.models.pretrained.shared_backbone_weights``), from random weights when there is
none (the first line says which). Run from the repository root::

    .venv/bin/python -m benchmarks.gpu_check
    .venv/bin/python -m benchmarks.gpu_check --cpu-dry-run   # no GPU: the CPU paths only
"""

from __future__ import annotations

import argparse
import copy
import logging
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from hicd.models.pretrained import shared_backbone_weights

REPO = Path(__file__).resolve().parents[1]
PREDICT_SIZE = 768
MAP_AGREEMENT = 0.999  # share of valid pixels whose 0/1 decision must agree between CPU and CUDA
PROBABILITY_TOLERANCE = 1e-2  # cuDNN may use TF32 convolutions, so not bitwise equal

Result = tuple[str, str, str]  # check, held/failed/skipped, figures


def run_check(results: list[Result], name: str, check: Callable[[], str]) -> None:
    """Run ``check`` (returns its figures, raises AssertionError when it does not hold)."""
    start = time.perf_counter()
    try:
        figures = check()
        status = "held"
    except AssertionError as error:
        figures, status = str(error), "failed"
    except Exception as error:  # every failure is reported in the table
        figures, status = f"{type(error).__name__}: {error}".splitlines()[0], "failed"
    figures = f"{figures} ({time.perf_counter() - start:.0f} s)"
    results.append((name, status, figures))
    print(f"{status:>7}  {name}: {figures}", flush=True)


def network_options(pretrained: Path | None) -> dict:
    return {
        "pretrained": str(pretrained) if pretrained else None,
        "options": {"decoder_channels": 32},
    }


def data_module(size: int, batch: int):
    from hicd.training import ChangeDataModule

    return ChangeDataModule(
        kind="synthetic",
        synthetic={"train": 4 * batch, "val": 2, "test": 2, "size": size, "seed": 0},
        crop_size=size,
        batch_size=batch,
        num_workers=2,
    )


def fit_steps(module, args, accelerator: str, precision: str, steps: int):
    """Fit ``module`` for ``steps`` steps without validation; return the trainer."""
    import lightning.pytorch as pl

    trainer = pl.Trainer(
        accelerator=accelerator,
        devices=1,
        precision=precision,
        max_steps=steps,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        log_every_n_steps=1,
    )
    trainer.fit(module, datamodule=data_module(args.size, args.batch))
    return trainer


def changed_and_finite(module, before: dict, trainer) -> str:
    loss = float(trainer.callback_metrics["train/loss"])
    assert math.isfinite(loss), f"train/loss {loss}"
    after = module.model.state_dict()
    moved = max(
        float((after[k].float().cpu() - before[k].float()).abs().max())
        for k in before
        if before[k].is_floating_point()
    )
    assert moved > 0, "no weight changed"
    return f"step {trainer.global_step}, train/loss {loss:.4f}, largest weight change {moved:.2e}"


def teacher_check(args, accelerator: str, precision: str, checkpoint: Path) -> Callable[[], str]:
    def check() -> str:
        from hicd.training import TeacherModule

        torch.manual_seed(0)
        module = TeacherModule(network=network_options(args.weights))
        before = copy.deepcopy(module.model.state_dict())
        trainer = fit_steps(module, args, accelerator, precision, args.steps)
        figures = changed_and_finite(module, before, trainer)
        if not checkpoint.exists():
            trainer.save_checkpoint(checkpoint)
        return figures

    return check


def student_check(args, accelerator: str, precision: str, teacher: Path) -> Callable[[], str]:
    def check() -> str:
        from hicd.training import StudentModule

        assert teacher.exists(), "no teacher checkpoint (the teacher check failed)"
        torch.manual_seed(0)
        module = StudentModule(
            teacher_checkpoint=str(teacher),
            distillation={"method": "hicd"},
            degradation="multi-x4",
        )
        before = copy.deepcopy(module.model.state_dict())
        trainer = fit_steps(module, args, accelerator, precision, args.steps)
        return changed_and_finite(module, before, trainer)

    return check


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def hicd(argv: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONWARNINGS": "ignore", **env}
    source = str(REPO / "src")
    environment["PYTHONPATH"] = os.pathsep.join(
        filter(None, [source, os.environ.get("PYTHONPATH")])
    )
    command = [sys.executable, "-m", "hicd.cli.main", *argv]
    done = subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True)
    assert done.returncode == 0, f"hicd {argv[0]} exit {done.returncode}: {done.stderr[-300:]}"
    return done


def ddp_check(args, work: Path) -> Callable[[], str]:
    def check() -> str:
        run = work / "ddp"
        pretrained = str(args.weights) if args.weights else "null"
        hicd(
            [
                "fit", "--config", str(REPO / "configs" / "synthetic" / "teacher.yaml"),
                "--model.init_args.network.pretrained", pretrained,
                "--data.synthetic.train", str(8 * args.batch),
                "--data.synthetic.val", "4",
                "--data.synthetic.size", str(args.size),
                "--data.crop_size", str(args.size),
                "--data.batch_size", str(args.batch),
                "--data.num_workers", "2",
                "--trainer.accelerator", "gpu", "--trainer.devices", "2",
                "--trainer.strategy", "ddp", "--trainer.precision", "bf16-mixed",
                "--trainer.max_steps", "4", "--trainer.val_check_interval", "4",
                "--trainer.enable_progress_bar", "false",
                "--trainer.default_root_dir", str(run),
            ],
            work,
            MASTER_ADDR="127.0.0.1",
            MASTER_PORT=str(free_port()),
        )  # fmt: skip
        last = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
        assert last["global_step"] == 4, f"global_step {last['global_step']}"
        (state,) = [s for k, s in last["callbacks"].items() if "'val/f1'" in k]
        score = float(state["current_score"])
        assert math.isfinite(score), f"val/f1 {score}"
        versions = sorted(p.name for p in run.glob("version_*"))
        assert versions == ["version_0"], f"run folders {versions}"
        return f"2 processes, global_step 4, val/f1 {score:.4f}, one run folder"

    return check


def write_pair(folder: Path, size: int) -> tuple[Path, Path]:
    """A generated scene pair as uint8 GeoTIFFs in UTM 32N, 10 m pixels."""
    import rasterio
    from rasterio.transform import from_origin

    from hicd.data.synthetic import generate_pair

    t1, t2, _ = generate_pair(0, 0, size)
    paths = []
    for name, image in (("t1.tif", t1), ("t2.tif", t2)):
        array = np.asarray(image)
        bands = array.transpose(2, 0, 1)
        path = folder / name
        profile = {
            "driver": "GTiff",
            "width": size,
            "height": size,
            "count": bands.shape[0],
            "dtype": "uint8",
            "crs": "EPSG:32632",
            "transform": from_origin(500000, 5000000, 10, 10),
        }
        with rasterio.open(path, "w", **profile) as out:
            out.write(bands.astype(np.uint8))
        paths.append(path)
    return paths[0], paths[1]


def predict(checkpoint: Path, pair: tuple[Path, Path], out: Path, device: str) -> np.ndarray:
    import rasterio

    hicd(
        [
            "predict", "--checkpoint", str(checkpoint), "--t1", str(pair[0]), "--t2", str(pair[1]),
            "--out", str(out), "--probabilities", "--device", device,
            "--no-quicklook", "--quiet",
        ],
        out.parent,
    )  # fmt: skip
    with rasterio.open(out) as raster:
        return raster.read(1)


def predict_check(checkpoint: Path, work: Path, device: str | None) -> Callable[[], str]:
    def check() -> str:
        assert checkpoint.exists(), "no teacher checkpoint (the teacher check failed)"
        pair = write_pair(work, PREDICT_SIZE)
        cpu = predict(checkpoint, pair, work / "cpu.tif", "cpu")
        valid = np.isfinite(cpu)
        assert valid.any(), "the CPU map has no valid pixel"
        figures = (
            f"{PREDICT_SIZE}×{PREDICT_SIZE}, CPU mean p {cpu[valid].mean():.3f}, "
            f"change share {(cpu[valid] >= 0.5).mean():.3f}"
        )
        if device is None:
            return figures
        gpu = predict(checkpoint, pair, work / "gpu.tif", device)
        assert np.array_equal(np.isfinite(gpu), valid), "nodata differs"
        diff = float(np.abs(gpu[valid] - cpu[valid]).max())
        agree = float(((gpu[valid] >= 0.5) == (cpu[valid] >= 0.5)).mean())
        figures += f", max |p_cuda - p_cpu| {diff:.2e}, maps agree on {agree:.5f}"
        assert diff <= PROBABILITY_TOLERANCE and agree >= MAP_AGREEMENT, figures
        return figures

    return check


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cpu-dry-run",
        action="store_true",
        help="run the CPU paths only (bf16-mixed steps and the CPU prediction), CUDA skipped",
    )
    parser.add_argument("--size", type=int, default=256, help="image side (default: 256)")
    parser.add_argument("--batch", type=int, default=8, help="crops per batch (default: 8)")
    parser.add_argument("--steps", type=int, default=20, help="optimiser steps (default: 20)")
    parser.add_argument(
        "--weights",
        type=Path,
        default=shared_backbone_weights(),
        help="backbone weights (default: the ImageNet MobileNetV2 file hicd finds, "
        "$HICD_SHARED_WEIGHTS or ../shared/weights or torch's hub cache, else random)",
    )
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    import lightning.pytorch  # noqa: F401  (sets its loggers' levels on import)

    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    logging.getLogger("lightning.fabric").setLevel(logging.ERROR)

    cuda = torch.cuda.is_available() and not args.cpu_dry_run
    gpus = torch.cuda.device_count() if cuda else 0
    device = "cuda" if cuda else "cpu"
    name = (
        torch.cuda.get_device_name(0)
        if cuda
        else "no CUDA"
        if not args.cpu_dry_run
        else "CPU dry run"
    )
    print(f"hicd gpu check: {name}, {gpus} GPU(s), torch {torch.__version__}, "
          f"backbone {args.weights or 'random'}, {args.size}px × {args.batch}, {args.steps} steps")  # fmt: skip
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="hicd-gpu-check-") as folder:
        work = Path(folder)
        teacher = work / "teacher.ckpt"
        precisions = ["bf16-mixed", "16-mixed"] if cuda else ["bf16-mixed"]
        for precision in precisions:
            run_check(
                results,
                f"teacher steps, {precision}, {device}",
                teacher_check(args, "gpu" if cuda else "cpu", precision, teacher),
            )
            run_check(
                results,
                f"student (hicd) steps, {precision}, {device}",
                student_check(args, "gpu" if cuda else "cpu", precision, teacher),
            )
        if not cuda:
            results.append(("mixed precision 16-mixed on CUDA", "skipped", "no CUDA"))
        if gpus >= 2:
            run_check(results, "hicd fit, DDP on 2 GPUs, bf16-mixed", ddp_check(args, work))
        else:
            reason = f"{gpus} GPU" if cuda else "no CUDA"
            results.append(("hicd fit, DDP on 2 GPUs", "skipped", reason))
        run_check(
            results,
            "hicd predict, CUDA vs CPU" if cuda else "hicd predict, CPU only",
            predict_check(teacher, work, "cuda" if cuda else None),
        )
        if not cuda:
            results.append(("hicd predict on CUDA, parity with CPU", "skipped", "no CUDA"))

    width = max(len(check) for check, _, _ in results)
    print(f"\n{'check':<{width}}  {'result':<7}  figures")
    for check, status, figures in results:
        print(f"{check:<{width}}  {status:<7}  {figures}")
    return 1 if any(status == "failed" for _, status, _ in results) else 0


if __name__ == "__main__":
    sys.exit(main())
