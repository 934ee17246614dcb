"""The network's own cost on the CPU, lever by lever: what could make prediction faster.

Pure forward passes of the default ``siam_fpn`` (random weights; cost does not depend on them)
on random pairs, in Mpx/s of input (no tile overlap), all in one process, side by side:

* ONNX Runtime fp32 (the default engine) over tile sizes and batch sizes, and with its session
  options changed (CPU memory arena on, spinning worker threads on);
* PyTorch fp32 and bf16 autocast (this CPU's AVX-512 BF16 / AMX), NCHW and channels-last;
* where ONNX Runtime's time goes (its profiler, grouped by the module a node belongs to:
  encoder, or the decoder, fusion and head that run at 1/4 to full resolution; glue: padding,
  resizing, slicing between them).

    .venv/bin/python benchmarks/forward_levers.py            # about 3 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import collections
import functools
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def session(path: Path, threads: int, arena: bool = False, spinning: bool = False):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.enable_cpu_mem_arena = arena
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def speed(run, pixels: int, repeats: int) -> float:
    """Mpx/s of ``run()`` (one warm-up call, then the best of ``repeats``)."""
    run()
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return pixels / best / 1e6


def feeds(tile: int, batch: int) -> tuple[np.ndarray, np.ndarray]:
    generator = np.random.default_rng(0)
    t1 = generator.random((batch, 3, tile, tile), np.float32)
    return t1, np.ascontiguousarray(t1[..., ::-1])


def profile_shares(path: Path, threads: int) -> dict[str, float]:
    """Share of ONNX Runtime's kernel time by the module its node belongs to."""
    import onnxruntime

    with tempfile.TemporaryDirectory() as folder:
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.enable_profiling = True
        options.profile_file_prefix = str(Path(folder) / "profile")
        ort = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        t1, t2 = feeds(512, 1)
        for _ in range(3):
            ort.run(None, {"t1": t1, "t2": t2})
        events = json.loads(Path(ort.end_profiling()).read_text())
    spent: collections.Counter = collections.Counter()
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            parts = event["name"].split("/")  # /model/encoder/features.3/... or /model/Pad_1
            group = parts[2].split(".")[0] if len(parts) > 3 and parts[1] == "model" else "glue"
            spent[group] += event["dur"]
    total = sum(spent.values())
    return {name: value / total for name, value in spent.most_common()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from hicd.inference.export import write_onnx
    from hicd.models import create_model
    from hicd.models.checkpoint import CheckpointInfo

    model = create_model("siam_fpn", pretrained=None).eval()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "siam_fpn.onnx"
        write_onnx(model, CheckpointInfo(model.config, tile_size=512), path, 18)
        default = session(path, args.threads)
        for tile, batch in [(512, 1), (512, 4), (256, 4), (768, 1), (1024, 1)]:
            t1, t2 = feeds(tile, batch)
            run = functools.partial(default.run, None, {"t1": t1, "t2": t2})
            rows.append(
                ("onnx fp32", f"{tile}² × {batch}", speed(run, batch * tile**2, args.repeats))
            )
        t1, t2 = feeds(512, 1)
        for name, options in [("arena on", {"arena": True}), ("spinning on", {"spinning": True})]:
            changed = session(path, args.threads, **options)
            run = functools.partial(changed.run, None, {"t1": t1, "t2": t2})
            rows.append((f"onnx fp32, {name}", "512² × 1", speed(run, 512**2, args.repeats)))
        shares = profile_shares(path, args.threads)

    a, b = (torch.from_numpy(x) for x in feeds(512, 1))
    reference = None
    for layout in ("NCHW", "channels-last"):
        fmt = torch.channels_last if layout == "channels-last" else torch.contiguous_format
        net = model.to(memory_format=fmt)
        x, y = a.contiguous(memory_format=fmt), b.contiguous(memory_format=fmt)
        for precision in ("fp32", "bf16"):
            bf16 = precision == "bf16"

            def run(net=net, x=x, y=y, bf16=bf16):
                with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=bf16):
                    return net(x, y).logits.float().softmax(1)[:, 1]

            probability = run()
            reference = probability if reference is None else reference
            gap = (probability - reference).abs().max().item()
            label = f"torch {precision} {layout}"
            rows.append((label, "512² × 1", speed(run, 512**2, args.repeats), gap))

    print(f"\nforward passes, {args.threads} threads, best of {args.repeats} (Mpx/s of input)")
    print("| engine | tile × batch | Mpx/s | max abs Δ probability vs torch fp32 NCHW |")
    print("|---|---|---|---|")
    for row in rows:
        gap = f"{row[3]:.2e}" if len(row) > 3 else ""
        print(f"| {row[0]} | {row[1]} | {row[2]:.2f} | {gap} |")
    print("\nONNX Runtime kernel time by module (512² × 1):")
    print(", ".join(f"{name} {share:.0%}" for name, share in shares.items()))


if __name__ == "__main__":
    main()
