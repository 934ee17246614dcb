"""Predict the change map of two images (large, georeferenced GeoTIFFs or plain PNG/JPEG).

t1 defines the output grid: a t2 with another resolution, size, CRS or extent is resampled onto
it on the fly, and only where both footprints overlap is predicted (elsewhere: nodata). Both
images are read and the map written window by window, so scenes of any size fit in memory. With
folders for --t1, --t2 and --out, every pair of files with the same name is predicted: --resume
skips the pairs already written, and --devices/--num-nodes spread the pairs over processes, GPUs
and nodes (Lightning's launcher: the same command runs once per node, or under SLURM/torchrun).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from hicd.cli.options import add_engine, add_value_scale, apply_threads, positive_int
from hicd.errors import ConfigError

if TYPE_CHECKING:
    from hicd.api import DistributedReport, FolderPlan, PredictionResult, PredictOptions


def _bands(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated band numbers, got {text!r}"
        ) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from hicd.api import STRATEGIES
    from hicd.inference.raster import RESAMPLING

    parser.add_argument(
        "--checkpoint", required=True, help="checkpoint (from hicd fit or save_model_checkpoint)"
    )
    parser.add_argument("--t1", required=True, help="first-date image (or folder of images)")
    parser.add_argument("--t2", required=True, help="second-date image (or folder of images)")
    parser.add_argument("--out", required=True, help="change map GeoTIFF (or folder)")
    parser.add_argument(
        "--tile", type=int, help="prediction window (default: checkpoint's tile size, else 512)"
    )
    parser.add_argument("--overlap", type=int, help="window overlap (default: tile / 4)")
    parser.add_argument(
        "--batch-size",
        type=int,
        help="windows per forward pass (default: 8 on a GPU, 4 on the CPU)",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=0.5,
        help="change probability counted as change (default: 0.5)",
    )
    parser.add_argument(
        "--probabilities",
        action="store_true",
        help="write float32 change probability (NaN nodata) instead of the 0/1 map (255 nodata)",
    )
    parser.add_argument(
        "--resampling",
        choices=tuple(RESAMPLING),
        default="bilinear",
        help="how t2 is resampled onto t1's grid (default: bilinear)",
    )
    parser.add_argument(
        "--bands", type=_bands, help="1-based bands to read, e.g. 3,2,1 (default: all but alpha)"
    )
    add_value_scale(parser)
    parser.add_argument(
        "--device",
        default="auto",
        help="auto, cpu, cuda, cuda:1, ... (with --devices: auto, cpu or cuda) (default: auto)",
    )
    add_engine(parser)
    parser.add_argument(
        "--quicklook", metavar="PNG", help="quick-look PNG path (default: --out with .png)"
    )
    parser.add_argument("--no-quicklook", action="store_true", help="write no quick-look PNG")
    parser.add_argument(
        "--vector",
        metavar="GEOJSON",
        help="also write the changes as polygons (GeoJSON; a folder in folder mode)",
    )
    parser.add_argument(
        "--vector-crs",
        choices=("wgs84", "native"),
        default="wgs84",
        help="GeoJSON coordinates: RFC 7946 WGS 84 lon/lat, or t1's CRS (default: wgs84)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace existing outputs (default: refuse)"
    )
    parser.add_argument(
        "--no-inspect",
        action="store_true",
        help="skip measuring each pair's quality gap (default: inspect, one line per pair on "
        "stderr, with a warning when the gap lies outside the checkpoint's training)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    folders = parser.add_argument_group("folder mode: many pairs")
    folders.add_argument(
        "--resume",
        action="store_true",
        help="skip the pairs whose outputs are all present (map, quick-look, GeoJSON); one "
        "with only some of them needs --overwrite",
    )
    folders.add_argument(
        "--devices",
        type=positive_int,
        default=1,
        help="processes per node, one per GPU with --device cuda; --threads is split among "
        "them (default: 1)",
    )
    folders.add_argument(
        "--num-nodes", type=positive_int, default=1, help="nodes taking part (default: 1)"
    )
    folders.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="auto",
        help="Lightning's strategy; auto is ddp for several processes (default: auto)",
    )


def run(args: argparse.Namespace) -> int:
    from hicd.api import ChangeDetector, plan_folders
    from hicd.inference.scene import PredictOptions

    if args.no_quicklook and args.quicklook:
        raise ConfigError("--quicklook and --no-quicklook exclude each other")
    t1, t2 = Path(args.t1), Path(args.t2)
    folder_mode = t1.is_dir()
    if folder_mode != t2.is_dir():
        raise ConfigError(f"--t1 {t1} and --t2 {t2}: give two files or two folders")
    if folder_mode and args.quicklook:
        raise ConfigError("--quicklook names one file: in folder mode quick-looks go to --out")
    distributed = args.devices > 1 or args.num_nodes > 1
    if not folder_mode and (args.resume or distributed):
        option = "--resume" if args.resume else "--devices/--num-nodes"
        raise ConfigError(
            f"{option} applies to folders of pairs: give folders for --t1, --t2 and --out"
        )
    options = PredictOptions(
        tile=args.tile,
        overlap=args.overlap,
        batch_size=args.batch_size,
        threshold=args.threshold,
        probabilities=args.probabilities,
        resampling=args.resampling,
        bands=args.bands,
        value_scale=args.value_scale,
        quicklook=False if args.no_quicklook else (args.quicklook or True),
        vector=None if folder_mode else args.vector,
        vector_crs=args.vector_crs,
        progress=not args.quiet,
        overwrite=args.overwrite,
        inspect=not args.no_inspect,
    )
    if distributed:
        return run_distributed(args, options)
    apply_threads(args.threads)
    if not folder_mode:
        detector = ChangeDetector.from_checkpoint(args.checkpoint, args.device, args.engine)
        print_result(detector.predict_files(t1, t2, args.out, options))
        return 0
    plan = plan_folders(
        t1, t2, args.out, options, vector_dir=args.vector, resume=args.resume
    )  # every output checked before the checkpoint is loaded
    if args.resume:
        print_skipped(plan)
    detector = ChangeDetector.from_checkpoint(args.checkpoint, args.device, args.engine)
    detector.predict_jobs(plan.jobs, on_result=print_result)
    return 0


def run_distributed(args: argparse.Namespace, options: PredictOptions) -> int:
    """Folder mode over ``--devices`` processes on each of ``--num-nodes`` nodes."""
    from hicd.api import DistributedError, predict_folders_distributed

    try:
        report = predict_folders_distributed(
            args.checkpoint,
            args.t1,
            args.t2,
            args.out,
            options,
            vector_dir=args.vector,
            resume=args.resume,
            engine=args.engine,
            device=args.device,
            devices=args.devices,
            num_nodes=args.num_nodes,
            strategy=args.strategy,
            threads=args.threads,
            on_plan=print_skipped if args.resume else None,
            on_result=print_result,
        )
    except DistributedError as error:
        if error.relayed:
            return 2  # rank 0 prints it
        raise
    if report.rank == 0:
        print_summary(report)
    return 0


def print_result(result: PredictionResult) -> None:
    """The pair's quality gap (stderr) and what was written (stdout), as it is written."""
    gap = result.gap_line()
    if gap is not None:
        print(gap, file=sys.stderr, flush=True)
    share = result.changed_pixels / max(result.valid_pixels, 1)
    print(
        f"wrote {result.out} ({result.width}×{result.height}, "
        f"{result.changed_pixels} changed pixels = {share:.2%} of {result.valid_pixels} "
        f"predicted, {result.seconds:.1f} s)",
        flush=True,
    )


def print_skipped(plan: FolderPlan) -> None:
    """--resume: how many pairs were skipped, their outputs complete."""
    total = len(plan.skipped) + len(plan.jobs)
    print(
        f"resume: skipped {len(plan.skipped)} of {total} pairs (outputs complete), "
        f"{len(plan.jobs)} to predict",
        flush=True,
    )


def print_summary(report: DistributedReport) -> None:
    """Rank 0, once every process has finished: what all of them did."""
    pairs = "pair" if report.predicted == 1 else "pairs"
    skipped = f", skipped {report.skipped} (outputs complete)" if report.skipped else ""
    print(
        f"predicted {report.predicted} {pairs} with {report.world_size} processes "
        f"in {report.seconds:.1f} s{skipped}",
        flush=True,
    )
