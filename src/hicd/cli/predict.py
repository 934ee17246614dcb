"""Predict the change map of two images (large, georeferenced GeoTIFFs or plain PNG/JPEG).

t1 defines the output grid: a t2 with another resolution, size, CRS or extent is resampled onto
it on the fly, and only where both footprints overlap is predicted (elsewhere: nodata). Both
images are read and the map written window by window, so scenes of any size fit in memory. With
folders for --t1, --t2 and --out (or --data, a dataset in any --layout, instead of --t1 and
--t2), every pair of files with the same name is predicted: --resume skips the pairs already
written, and --devices/--num-nodes spread the pairs over processes, GPUs and nodes (Lightning's
launcher: the same command runs once per node, or under SLURM/torchrun).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from hicd.cli.options import (
    add_dataset,
    add_inverted,
    add_option,
    add_output_policy,
    add_runtime,
    add_tiling,
    add_value_scale,
    apply_threads,
    build_options,
    positive_int,
)
from hicd.defaults import LAYOUT
from hicd.errors import ConfigError

DEVICE_HELP = "auto, cpu, cuda, cuda:1, ... (with --devices: auto, cpu or cuda)"

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
    from hicd.inference.scene import PredictOptions as Options

    parser.add_argument(
        "--checkpoint", required=True, help="checkpoint (from hicd fit or save_model_checkpoint)"
    )
    parser.add_argument("--t1", help="first-date image (or folder of images)")
    parser.add_argument("--t2", help="second-date image (or folder of images)")
    parser.add_argument("--out", required=True, help="change map GeoTIFF (or folder)")
    add_tiling(parser, Options)
    add_option(parser, Options, "threshold", type=float)
    add_option(parser, Options, "probabilities")
    add_option(parser, Options, "resampling", choices=tuple(RESAMPLING))
    add_option(parser, Options, "bands", type=_bands)
    add_value_scale(parser, Options)
    add_runtime(parser, device_help=DEVICE_HELP)
    parser.add_argument(
        "--quicklook",
        dest="quicklook_path",
        metavar="PNG",
        help="quick-look PNG path (default: --out with .png)",
    )
    add_inverted(parser, Options, "quicklook", "--no-quicklook", "write no quick-look PNG")
    add_option(
        parser,
        Options,
        "vector",
        metavar="GEOJSON",
        help="also write the changes as polygons (GeoJSON; a folder in folder mode)",
    )
    add_option(parser, Options, "vector_crs", choices=("wgs84", "native"))
    add_inverted(
        parser,
        Options,
        "inspect",
        "--no-inspect",
        "skip measuring each pair's quality gap (default: inspect, one line per pair on "
        "stderr, with a warning when the gap lies outside the checkpoint's training)",
    )
    add_output_policy(parser, Options)
    folders = parser.add_argument_group("folder mode: many pairs")
    add_dataset(
        folders,
        data_help="instead of --t1/--t2: every pair of a dataset folder (labels unused)",
        required=False,
    )
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


def options_from_args(args: argparse.Namespace, folder_mode: bool = False) -> PredictOptions:
    """The ``PredictOptions`` of the parsed arguments (in folder mode, ``--vector`` names the
    GeoJSON folder, not an option)."""
    from hicd.inference.scene import PredictOptions

    if args.no_quicklook and args.quicklook_path:
        raise ConfigError("--quicklook and --no-quicklook exclude each other")
    return build_options(
        PredictOptions,
        args,
        quicklook=False if args.no_quicklook else (args.quicklook_path or True),
        vector=None if folder_mode else args.vector,
        progress=not args.quiet,
    )


def run(args: argparse.Namespace) -> int:
    from hicd.api import ChangeDetector, plan_dataset, plan_folders
    from hicd.cli.main import expect_outputs
    from hicd.inference.scene import resolve_quicklook

    dataset_mode = args.data is not None
    if dataset_mode and (args.t1 is not None or args.t2 is not None):
        raise ConfigError("--data and --t1/--t2 exclude each other: give one or the other")
    if not dataset_mode and (args.t1 is None or args.t2 is None):
        raise ConfigError("give --t1 and --t2 (two files or two folders) or --data (a dataset)")
    if not dataset_mode and (args.layout != LAYOUT or args.split is not None):
        raise ConfigError("--layout and --split apply to --data: give a dataset folder")
    t1, t2 = (None, None) if dataset_mode else (Path(args.t1), Path(args.t2))
    folder_mode = dataset_mode or t1.is_dir()
    options = options_from_args(args, folder_mode)
    if not dataset_mode and folder_mode != t2.is_dir():
        raise ConfigError(f"--t1 {t1} and --t2 {t2}: give two files or two folders")
    if folder_mode and args.quicklook_path:
        raise ConfigError("--quicklook names one file: in folder mode quick-looks go to --out")
    distributed = args.devices > 1 or args.num_nodes > 1
    if not folder_mode and (args.resume or distributed):
        option = "--resume" if args.resume else "--devices/--num-nodes"
        raise ConfigError(
            f"{option} applies to folders of pairs: give folders for --t1, --t2 and --out"
        )
    if distributed:
        return run_distributed(args, options)
    apply_threads(args.threads)
    if not folder_mode:
        detector = ChangeDetector.from_checkpoint(args.checkpoint, args.device, args.engine)
        quicklook = resolve_quicklook(Path(args.out), options.quicklook)
        expect_outputs([p for p in (args.out, quicklook, options.vector) if p])
        print_result(detector.predict_files(t1, t2, args.out, options))
        return 0
    folders = {"vector_dir": args.vector, "resume": args.resume}
    if dataset_mode:  # every output checked before the checkpoint is loaded
        plan = plan_dataset(
            args.data, args.out, options, layout=args.layout, split=args.split, **folders
        )
    else:
        plan = plan_folders(t1, t2, args.out, options, **folders)
    if args.resume:
        print_skipped(plan)
    detector = ChangeDetector.from_checkpoint(args.checkpoint, args.device, args.engine)
    expect_outputs([path for job in plan.jobs for path in job.outputs()])
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
            data=args.data,
            layout=args.layout,
            split=args.split,
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
    gap = None if result.gap_reported else result.gap_line()
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
