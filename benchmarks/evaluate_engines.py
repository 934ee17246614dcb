"""``hicd evaluate`` of the demo's three checkpoints under each inference engine, side by side.

Each engine runs ``hicd evaluate`` (its default settings unless ``--settings``) on the demo's
test split in a fresh child process, with the demo's ``teacher.ckpt``, ``none.ckpt`` and
``hicd.ckpt``. ``onnx (first use)`` starts with an empty export cache, so its time includes
exporting the three networks; ``onnx (cached)`` runs again with the cache filled. Each child
reports its wall time, the time spent inside the networks' forward passes and its peak resident
memory (``VmHWM``). The script then prints the ratio of each engine's time to torch's and the
largest difference of any F1 between the engines (the same pairs, settings and seed).

Run from the repository root after ``make demo`` (minutes on a small CPU)::

    .venv/bin/python benchmarks/evaluate_engines.py                         # 34 default settings
    .venv/bin/python benchmarks/evaluate_engines.py --settings clean,resolution-x4,multi-x4
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHECKPOINTS = ("teacher", "none", "hicd")
RUNS = (
    ("torch", "torch", True),
    ("onnx (first use)", "onnx", True),
    ("onnx (cached)", "onnx", False),
)


def peak_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(demo: Path, out: Path, engine: str, settings: str | None, threads: int) -> dict:
    """Run ``hicd evaluate`` in this process with every forward pass timed."""
    import torch
    from torch import nn

    import hicd.evaluation.runner as runner
    from hicd.cli.main import main

    spent = {"seconds": 0.0}

    class Timed(nn.Module):
        def __init__(self, inner: nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, t1, t2):
            started = time.perf_counter()
            output = self.inner(t1, t2)
            spent["seconds"] += time.perf_counter() - started
            return output

    build = runner.build_engine
    runner.build_engine = lambda *args, **kwargs: Timed(build(*args, **kwargs))
    torch.set_num_threads(threads)
    command = ["evaluate", "--data", str(demo / "work" / "data"), "--split", "test"]
    for name in CHECKPOINTS:
        command += ["--checkpoint", str(demo / f"{name}.ckpt"), "--name", name]
    command += ["--out", str(out), "--engine", engine, "--device", "cpu", "--quiet"]
    command += ["--settings", settings] if settings else []
    started = time.perf_counter()
    code = main(command)
    seconds = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"hicd evaluate failed with exit code {code}")
    rows = json.loads((out / "results.json").read_text())
    return {"seconds": seconds, "forward_s": spent["seconds"], "peak_mib": peak_mib(), "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--demo", type=Path, default=Path("demo-output"), help="the folder `make demo` wrote"
    )
    parser.add_argument("--settings", help="hicd evaluate --settings (default: its own)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        out, engine, settings = args.child
        row = child(args.demo, Path(out), engine, settings or None, args.threads)
        print(json.dumps(row))
        return
    missing = [n for n in CHECKPOINTS if not (args.demo / f"{n}.ckpt").is_file()]
    if missing or not (args.demo / "work" / "data").is_dir():
        raise SystemExit(f"--demo {args.demo}: no demo output there; run `make demo` first")

    results = {}
    with tempfile.TemporaryDirectory() as workdir:
        env = dict(os.environ, HICD_CACHE_DIR=str(Path(workdir) / "cache"))
        for label, engine in RUNS:
            command = [sys.executable, __file__, "--demo", str(args.demo)]
            command += ["--threads", str(args.threads), "--child"]
            command += [str(Path(workdir) / label.replace(" ", "_")), engine, args.settings or ""]
            completed = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
            results[label] = json.loads(completed.stdout.strip().splitlines()[-1])
            print(f"{label}: {results[label]['seconds']:.1f} s", flush=True)

    torch_run = results["torch"]
    f1 = {
        label: {(r["model"], r["setting"]): r["f1"] for r in run["rows"]}
        for label, run in results.items()
    }
    cells = len(torch_run["rows"])
    print(
        f"\nhicd evaluate on CPU ({args.threads} threads): {len(CHECKPOINTS)} demo checkpoints, "
        f"test split, {cells // len(CHECKPOINTS)} settings ({args.settings or 'default'})"
    )
    print("| engine | wall s | speed-up vs torch | forward s | forward share | peak RSS MiB "
          "| max abs ΔF1 vs torch |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, run in results.items():
        delta = max(abs(f1[label][key] - value) for key, value in f1["torch"].items())
        print(
            f"| {label} | {run['seconds']:.1f} | {torch_run['seconds'] / run['seconds']:.2f}× "
            f"| {run['forward_s']:.1f} | {run['forward_s'] / run['seconds']:.2f} "
            f"| {run['peak_mib']:.0f} | {delta:.4f} |"
        )
    print("F1 in %; forward share: time inside the networks' forward passes / wall time.")


if __name__ == "__main__":
    main()
