"""Peak memory and throughput of ``ChangeDetector.predict_files`` on large georeferenced pairs.

For each scene size (S or WxH) it writes a pair into a temporary folder (window by window, so
generating stays small too): t1 is W×H at 0.5 m, t2 has twice the pixel size (W/2 × H/2 at 1 m)
and an extent shifted by 32 m, so t2 is resampled onto t1's grid and only the overlap is predicted.
The content is tiles of ``hicd.data.synthetic.generate_pair``. Each size is then predicted in a
fresh child process with the default ``siam_fpn`` (random weights) and with ``pixelwise``, a
stand-in network that costs nothing (to measure the pipeline alone); each child reports

* its peak resident memory (``VmHWM``; ``ru_maxrss`` agrees) and its resident memory after
  building the model and one warm-up batch, to show that the pipeline's own memory does not grow
  with the scene;
* end-to-end predicted pixels per second (reading, warping t2, blending, writing the GeoTIFF and
  the quick-look), the time spent inside the network's forward passes during that run, and a
  pure forward pass on random tiles of the same size outside the pipeline. ``ratio`` is the time
  spent in the network's forward passes over the end-to-end time (1.0: no overhead at all).

Run from the repository root (several minutes on a small CPU; sizes are configurable)::

    .venv/bin/python benchmarks/predict_large.py                      # 4096 and 8192
    .venv/bin/python benchmarks/predict_large.py --sizes 2048 4096 --threads 2
    .venv/bin/python benchmarks/predict_large.py --sizes 4096 4096x8192 --models pixelwise
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PIXEL = 0.5  # metres per t1 pixel
SHIFT = 32.0  # metres t2's extent is shifted east and south
BLOCK = 512
BASELINE = "ab2649f"
"""hicd 0.2.0 before the prediction speed-ups (overlap tile/4, batch 4 on the CPU, reads and
the quick-look in the computing thread): the ratio's baseline."""


def parse_size(text: str) -> tuple[int, int]:
    """``"S"`` or ``"WxH"`` → (width, height)."""
    width, _, height = text.partition("x")
    return int(width), int(height or width)


def generate(folder: Path, width: int, height: int, seed: int = 0) -> tuple[Path, Path]:
    """Write t1.tif (W×H, 0.5 m) and t2.tif (W/2 × H/2, 1 m, shifted) window by window."""
    import numpy as np
    import rasterio
    from affine import Affine
    from rasterio.windows import Window

    from hicd.data.synthetic import generate_pair

    origin = (500000.0, 4000000.0)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    grids = [
        ("t1.tif", (width, height), PIXEL, 0.0, 0),
        ("t2.tif", (width // 2, height // 2), 2 * PIXEL, SHIFT, 1),
    ]
    for name, (cols, rows), pixel, shift, date in grids:
        path = folder / name
        profile = {
            "driver": "GTiff",
            "width": cols,
            "height": rows,
            "count": 3,
            "dtype": "uint8",
            "crs": "EPSG:32631",
            "transform": Affine(pixel, 0, origin[0] + shift, 0, -pixel, origin[1] - shift),
            "tiled": True,
            "blockxsize": 256,
            "blockysize": 256,
            "compress": "deflate",
            "photometric": "rgb",
        }
        with rasterio.open(path, "w", **profile) as dataset:
            index = 0
            for top in range(0, rows, BLOCK):
                for left in range(0, cols, BLOCK):
                    h, w = min(BLOCK, rows - top), min(BLOCK, cols - left)
                    block = generate_pair(seed, index, (h, w))[date]
                    dataset.write(np.moveaxis(block, -1, 0), window=Window(left, top, w, h))
                    index += 1
        paths.append(path)
    return paths[0], paths[1]


def checkout_source(commit: str, folder: Path) -> Path:
    """The ``src`` folder of ``commit``, extracted into ``folder`` (``git archive``)."""
    folder.mkdir(parents=True)
    root = Path(__file__).resolve().parents[1]
    archive = subprocess.run(
        ["git", "-C", str(root), "archive", commit, "src"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder / "src"


def memory_mib(field: str) -> float:
    """A field of /proc/self/status (``VmRSS``, ``VmHWM``) in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def build_model(name: str):
    """The default ``siam_fpn`` (random init), or ``pixelwise``: a parameter-free stand-in
    whose cost is negligible, so the run measures the pipeline alone."""
    import torch

    from hicd.models import ChangeOutput, create_model

    if name == "siam_fpn":
        return create_model("siam_fpn", pretrained=None).eval()

    class Pixelwise(torch.nn.Module):
        def forward(self, t1: torch.Tensor, t2: torch.Tensor) -> ChangeOutput:
            change = 40 * ((t2 - t1).abs().mean(dim=1, keepdim=True) - 0.2)
            return ChangeOutput(logits=torch.cat([torch.zeros_like(change), change], dim=1))

    return Pixelwise().eval()


def predict_child(
    t1: Path,
    t2: Path,
    out: Path,
    model_name: str,
    tile: int,
    batch: int | None,
    threads: int,
    engine: str = "torch",
) -> dict:
    """Run in a fresh process: predict the pair with the defaults of the hicd it imports (the
    working tree's, or the baseline commit's) and report time and memory."""
    import torch

    from hicd.api import ChangeDetector
    from hicd.defaults import overlap_for
    from hicd.inference import streaming
    from hicd.inference.engine import build_engine
    from hicd.inference.scene import default_batch_size
    from hicd.models.checkpoint import CheckpointInfo, save_model_checkpoint

    torch.set_num_threads(threads)
    batch = batch or default_batch_size(torch.device("cpu"))
    model = build_model(model_name)
    info = CheckpointInfo({"in_channels": 3}, tile_size=tile)
    if engine != "torch":  # exported (and cached) before the clock starts, as on a second run
        info = CheckpointInfo(model.config, tile_size=tile)
        checkpoint = save_model_checkpoint(out.with_name(f"{model_name}.ckpt"), model, info)
        model = build_engine(checkpoint, model, info, engine)
    detector = ChangeDetector(model, info, "cpu")
    sample = torch.rand(batch, 3, tile, tile)
    with torch.inference_mode():  # warm-up
        streaming.forward_probability(model, sample, sample.flip(-1), torch.device("cpu"))
    rss_model = memory_mib("VmRSS")

    forward = streaming.forward_probability
    spent = {"seconds": 0.0, "tiles": 0}

    def timed_forward(model, t1, t2, device):
        started = time.perf_counter()
        result = forward(model, t1, t2, device)
        spent["seconds"] += time.perf_counter() - started
        spent["tiles"] += len(t1)
        return result

    streaming.forward_probability = timed_forward
    started = time.perf_counter()
    result = detector.predict_files(t1, t2, out, tile=tile, batch_size=batch, overwrite=True)
    end_to_end = time.perf_counter() - started
    streaming.forward_probability = forward

    pure, repeats = 0.0, 3
    with torch.inference_mode():
        for _ in range(repeats):
            started = time.perf_counter()
            forward(model, sample, sample.flip(-1), torch.device("cpu"))
            pure += time.perf_counter() - started
    pure_per_tile = pure / (repeats * batch)
    region = result.region
    return {
        "model": model_name,
        "engine": engine,
        "overlap": overlap_for(tile),
        "batch": batch,
        "size": f"{result.width}×{result.height}",
        "region_pixels": region[2] * region[3],
        "tiles": spent["tiles"],
        "end_to_end_s": end_to_end,
        "forward_in_run_s": spent["seconds"],
        "pure_forward_per_tile_s": pure_per_tile,
        "vm_hwm_mib": memory_mib("VmHWM"),
        "ru_maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_after_model_mib": rss_model,
        "warped": result.warped,
    }


def run_child(*args: str, source: Path | None = None) -> str:
    """Run this script in a fresh process, importing hicd from ``source`` (a ``src`` folder)
    when given, else the installed (working tree's) hicd."""
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(source), env.get("PYTHONPATH")]))
    completed = subprocess.run(
        [sys.executable, __file__, *args], check=True, capture_output=True, text=True, env=env
    )
    return completed.stdout.strip().splitlines()[-1]


def print_table(rows: list[dict], tile: int, threads: int, baseline: str) -> None:
    print(
        f"\npredict_files on CPU: tile {tile}, {threads} threads; "
        "t2 at 2x pixel size, shifted extent (warped)"
    )
    header = (
        "| model | engine | code | overlap | batch | scene | predicted px | tiles | end-to-end s "
        f"| Mpx/s | × {baseline} | forward s (in run) | forward share | standalone forward s "
        "| peak RSS MiB | RSS after model MiB |"
    )
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    reference = {(r["size"], r["engine"]): r for r in rows if r["variant"] == baseline}
    for row in rows:
        seconds = row["end_to_end_s"]
        speed = row["region_pixels"] / seconds / 1e6
        base = reference.get((row["size"], row["engine"]))
        times = (
            ""
            if base is None or row["model"] != "siam_fpn"
            else f"{base['end_to_end_s'] / seconds:.2f}"
        )
        print(
            f"| {row['model']} | {row['engine']} | {row['variant']} | {row['overlap']} | {row['batch']} "
            f"| {row['size']} | {row['region_pixels']:,} | {row['tiles']} "
            f"| {seconds:.1f} | {speed:.3f} | {times} "
            f"| {row['forward_in_run_s']:.1f} | {row['forward_in_run_s'] / seconds:.2f} "
            f"| {row['pure_forward_per_tile_s'] * row['tiles']:.1f} "
            f"| {row['vm_hwm_mib']:.0f} | {row['rss_after_model_mib']:.0f} |"
        )
    print(
        f"× {baseline}: end-to-end time of the code and defaults of commit {baseline} over this "
        "row's (today: the working tree), same scene, same run. forward share: time in the "
        "network's forward passes / end-to-end time (with reading prefetched in a thread, the "
        "forward passes also absorb the reads' share of the CPU). standalone forward: the same "
        "number of tiles timed on random input after the run (an estimate; sensitive to load)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", nargs="+", default=["4096", "8192"], help="scene sizes: S (square) or WxH"
    )
    parser.add_argument(
        "--models",
        nargs="+",
        choices=("siam_fpn", "pixelwise"),
        default=["pixelwise", "siam_fpn"],
        help="pixelwise: a free stand-in network, to measure the pipeline alone",
    )
    parser.add_argument(
        "--engines",
        nargs="+",
        choices=("torch", "onnx"),
        default=["torch", "onnx"],
        help="engines run side by side (pixelwise runs under torch only)",
    )
    parser.add_argument("--tile", type=int, default=512)
    parser.add_argument(
        "--batch-size",
        type=int,
        help="windows per forward pass (default: predict_files' own, 4 on CPU)",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--baseline",
        default=BASELINE,
        help="git commit whose code (and defaults) the ratio compares with, run side by side "
        "on the same pair; 'none' skips it",
    )
    parser.add_argument("--workdir", type=Path, help="where the pairs go (default: a temp folder)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "generate":
            generate(Path(rest[0]), *parse_size(rest[1]))
            print("ok")
        else:
            t1, t2, out, model, engine = rest
            row = predict_child(
                Path(t1), Path(t2), Path(out), model, args.tile, args.batch_size, args.threads,
                engine,
            )  # fmt: skip
            print(json.dumps(row))
        return

    common = ["--tile", str(args.tile), "--threads", str(args.threads)]
    if args.batch_size:
        common += ["--batch-size", str(args.batch_size)]
    with tempfile.TemporaryDirectory(dir=args.workdir) as workdir:
        os.environ["HICD_CACHE_DIR"] = str(Path(workdir) / "cache")  # children inherit it
        baseline = None
        if args.baseline != "none":
            baseline = checkout_source(args.baseline, Path(workdir) / "baseline")
        rows = []
        for size in args.sizes:
            folder = Path(workdir) / str(size)
            started = time.perf_counter()
            run_child("--child", "generate", str(folder), str(size))
            print(f"{size}: generated in {time.perf_counter() - started:.0f} s", flush=True)
            runs = [(m, e, "today") for m in args.models for e in args.engines]
            runs = [run for run in runs if run[0] == "siam_fpn" or run[1] == "torch"]
            if baseline is not None and "siam_fpn" in args.models and "onnx" in args.engines:
                runs.insert(0, ("siam_fpn", "onnx", args.baseline))
            for model, engine, variant in runs:
                paths = [str(folder / name) for name in ("t1.tif", "t2.tif", "change.tif")]
                source = baseline if variant == args.baseline else None
                row = json.loads(
                    run_child(*common, "--child", "predict", *paths, model, engine, source=source)
                )
                row["variant"] = variant
                print(
                    f"{size}, {model}, {engine}, {variant}: {row['tiles']} tiles in "
                    f"{row['end_to_end_s']:.0f} s",
                    flush=True,
                )
                rows.append(row)
        print_table(rows, args.tile, args.threads, args.baseline)


if __name__ == "__main__":
    main()
