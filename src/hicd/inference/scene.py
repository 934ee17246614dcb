"""Predicting the change map of one (large, georeferenced) image pair, file to file.

Both dates are read window by window (t2 resampled onto t1's grid when it differs), predicted
band by band with blended tiles, and written as they finish into a GeoTIFF on t1's grid.
Every output is written to a temporary file beside it and renamed at the end, so an
interrupted run leaves no partial output.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import rasterio
import torch
from rasterio.windows import Window
from torch import nn
from tqdm.auto import tqdm

from hicd.atomic import (
    atomic_paths,
    check_suffix,
    refuse_existing,
    refuse_input_clobbering,
    refuse_shared_outputs,
)
from hicd.data.io import ValueScale
from hicd.data.tiling import Tiling
from hicd.defaults import BATCH_SIZES as DEFAULT_BATCH_SIZES
from hicd.defaults import (
    batch_size_for,
    batch_size_option,
    document,
    option,
    overlap_option,
    progress_option,
    threshold_option,
    tile_option,
    value_scale_option,
)
from hicd.errors import ConfigError
from hicd.inference.device import execution_device
from hicd.inference.output import OUTPUT_SUFFIXES, ChangeMapWriter, decode_changes, encode
from hicd.inference.quicklook import write_quicklook
from hicd.inference.raster import ScenePair, open_pair
from hicd.inference.streaming import count_tiles, stream_change_probability
from hicd.inference.vector import resolve_vector_crs, write_change_polygons
from hicd.inspection import PairInspection, accepts, inspect_arrays
from hicd.inspection.pair import MIN_SIDE
from hicd.models.checkpoint import CheckpointInfo

BATCH_SIZES = DEFAULT_BATCH_SIZES
"""Default windows per forward pass by device type: ``hicd.defaults.BATCH_SIZES``, the one
table (here as the engine's name for it)."""
GDAL_CACHE_MB = 64
"""GDAL block cache while predicting (GDAL's default, 5 % of RAM, grows with the scene)."""
INSPECT_WINDOW = 1024
"""Side of the central window of a scene inspected before prediction (read like the rest)."""


@document
@dataclass(frozen=True)
class PredictOptions:
    """How a scene is predicted and what is written beside the map, checked when built.

    The one set of prediction options of ``predict_scene``, ``ChangeDetector.predict_files`` /
    ``predict_folders`` and ``hicd predict``, whose options are built from these fields (their
    help and defaults); errors name the CLI option.
    """

    tile: int | None = tile_option()
    overlap: int | None = overlap_option()
    batch_size: int | None = batch_size_option()
    threshold: float = threshold_option()
    probabilities: bool = option(
        False,
        help="write float32 change probability (NaN nodata) instead of the 0/1 map (255 nodata)",
    )
    resampling: str = option("bilinear", help="how t2 is resampled onto t1's grid")
    bands: list[int] | None = option(
        None,
        help="1-based bands to read from both files, e.g. 3,2,1",
        default_help="all but alpha",
    )
    value_scale: ValueScale = value_scale_option()
    quicklook: bool | str | Path | None = option(
        True,
        help="PNG of the changes over t1: True (the map path with .png), a path, or False (none)",
    )
    vector: str | Path | None = option(
        None, help="also write the changes as polygons to this GeoJSON", default_help="none"
    )
    vector_crs: str = option(
        "wgs84",
        help="GeoJSON coordinates: RFC 7946 WGS 84 lon/lat (wgs84, also EPSG:4326) or t1's CRS "
        "(native)",
    )
    progress: bool = progress_option(False)
    overwrite: bool = option(False, help="replace existing outputs", default_help="refuse")
    inspect: bool = option(
        True,
        help="measure each pair's quality gap first (hicd.inspection, on a central window of "
        f"at most {INSPECT_WINDOW}² px) and say whether the checkpoint was trained for it",
    )

    def __post_init__(self) -> None:
        Tiling.check_options(self.tile, self.overlap)  # an explicit tile/overlap checked now
        if self.batch_size is not None and self.batch_size < 1:
            raise ConfigError(f"--batch-size must be at least 1, got {self.batch_size}")
        if not 0.0 <= self.threshold <= 1.0:
            raise ConfigError(f"--threshold must be in [0, 1], got {self.threshold}")
        object.__setattr__(self, "vector_crs", resolve_vector_crs(self.vector_crs))

    @classmethod
    def build(cls, options: PredictOptions | None = None, **keywords: Any) -> PredictOptions:
        """``options`` (default: the defaults) with ``keywords`` replacing fields."""
        return replace(options or cls(), **keywords)


@dataclass(frozen=True)
class PredictionResult:
    """What one prediction wrote and found.

    Attributes:
        out, quicklook, vector: the files written (None: not asked for).
        height, width: size of the change map (t1's size).
        region: (row, column, height, width) of the predicted window (t2's footprint on t1).
        warped: whether t2 was resampled onto t1's grid.
        valid_pixels, changed_pixels: pixels with a prediction, and those predicted changed.
        polygons: number of features in ``vector``.
        seconds: wall time.
        inspection: the pair's measured quality gap (None: not inspected).
        gap_accepted, gap_reason: whether the checkpoint was trained for that gap, and why
            (docs/inspection.md); None when not inspected.
    """

    out: Path
    quicklook: Path | None
    vector: Path | None
    height: int
    width: int
    region: tuple[int, int, int, int]
    warped: bool
    valid_pixels: int
    changed_pixels: int
    polygons: int | None
    seconds: float
    inspection: PairInspection | None = None
    gap_accepted: bool | None = None
    gap_reason: str | None = None
    gap_reported: bool = False
    """Whether ``gap_line`` was already printed (on stderr, before the progress bar)."""

    def gap_line(self) -> str | None:
        """One line on the pair's quality gap and, when outside the training, a warning."""
        return gap_text(self.inspection, self.gap_accepted, self.gap_reason)


def gap_text(
    inspection: PairInspection | None, accepted: bool | None, reason: str | None
) -> str | None:
    """``PredictionResult.gap_line`` of these fields."""
    if inspection is None:
        return None
    line = f"inspect {inspection.summary()}"
    if accepted is False:
        line += f"; warning: outside what the checkpoint was trained on ({reason})"
    return line


def default_batch_size(device: torch.device) -> int:
    """Windows per forward pass when none is given (``hicd.defaults.BATCH_SIZES``)."""
    return batch_size_for(device.type)


def resolve_tiling(tile: int | None, overlap: int | None, info: CheckpointInfo | None) -> Tiling:
    """``Tiling.resolve`` with the checkpoint's training tile size as the default tile."""
    return Tiling.resolve(tile, overlap, info.tile_size if info is not None else None)


def resolve_quicklook(out: Path, quicklook: bool | str | Path | None) -> Path | None:
    """``True``: the output path with a .png suffix; a path: itself; ``False``/None: none."""
    if quicklook is True:
        return out.with_suffix(".png")
    return Path(quicklook) if quicklook else None


QUICKLOOK_SUFFIXES = (".png",)
VECTOR_SUFFIXES = (".geojson", ".json")


def check_output_paths(
    t1: Path,
    t2: Path,
    out: Path,
    quicklook: Path | None,
    vector: Path | None,
    overwrite: bool = False,
    protected: Sequence[Path] = (),
) -> None:
    """The output-path policy of ``hicd predict``: each output's extension names its format
    (GeoTIFF map, PNG quick-look, GeoJSON polygons), no output is an input (the images and
    ``protected``: the checkpoint and its cached graph) or another output, and existing
    outputs need ``overwrite``."""
    outputs = [("--out", out, OUTPUT_SUFFIXES, "the change map (GeoTIFF)")]
    if quicklook is not None:
        outputs.append(("--quicklook", quicklook, QUICKLOOK_SUFFIXES, "the quick-look"))
    if vector is not None:
        outputs.append(("--vector", vector, VECTOR_SUFFIXES, "the change polygons (GeoJSON)"))
    refuse_input_clobbering([(name, path) for name, path, *_ in outputs], [t1, t2, *protected])
    for name, path, suffixes, what in outputs:
        check_suffix(path, name, suffixes, what)
    refuse_shared_outputs([(name, path) for name, path, *_ in outputs])
    for _, path, *_ in outputs:
        refuse_existing(path, overwrite, "output")


def predict_scene(
    model: nn.Module,
    info: CheckpointInfo,
    t1: str | Path,
    t2: str | Path,
    out: str | Path,
    options: PredictOptions,
    protected: Sequence[Path] = (),
) -> PredictionResult:
    """Write the change map of ``t1`` → ``t2`` to ``out`` (see ``ChangeDetector.predict_files``;
    ``protected``: other input files no output may replace, e.g. the checkpoint)."""
    started = time.perf_counter()
    t1, t2, out = Path(t1), Path(t2), Path(out)
    tiling = resolve_tiling(options.tile, options.overlap, info)
    tile, overlap = tiling.tile, tiling.overlap
    batch_size = options.batch_size or default_batch_size(execution_device(model))
    threshold, probabilities, resampling = (
        options.threshold, options.probabilities, options.resampling
    )  # fmt: skip
    quicklook_path = resolve_quicklook(out, options.quicklook)
    vector_path = Path(options.vector) if options.vector else None
    extra = [p for p in (quicklook_path, vector_path) if p is not None]
    check_output_paths(t1, t2, out, quicklook_path, vector_path, options.overwrite, protected)
    with (
        rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB * 2**20),
        open_pair(t1, t2, info.bands, options.bands, resampling, options.value_scale) as pair,
        atomic_paths(out, *extra) as temporary,
    ):
        # every output is renamed into place together, once all of them are written
        map_tmp, extra_tmp = temporary[0], dict(zip(extra, temporary[1:], strict=True))
        region = pair.region
        inspection = inspect_scene(pair, t1.stem) if options.inspect else None
        tags = {
            "hicd_encoding": "probability" if probabilities else "binary",
            "hicd_threshold": str(threshold),
            "hicd_tile": str(tile),
            "hicd_overlap": str(overlap),
            "hicd_resampling": resampling if pair.warped else "none",
        }
        valid_pixels = changed_pixels = 0
        gap = gap_fields(inspection, info)
        if options.progress and inspection is not None:
            # before the bar, so a warning can stop a long run early
            line = gap_text(gap["inspection"], gap["gap_accepted"], gap["gap_reason"])
            print(line, file=sys.stderr, flush=True)
            gap["gap_reported"] = True
        tiles = count_tiles(region.height, region.width, tile, overlap)
        bar = tqdm(total=tiles, unit="tile", desc=out.name, disable=not options.progress)
        alongside = []  # written from the finished map while the COG is compressed
        if quicklook_path is not None:
            quicklook = extra_tmp[quicklook_path]
            alongside.append(
                functools.partial(write_quicklook, pair.t1, path=quicklook, threshold=threshold)
            )
        with (
            bar,
            ChangeMapWriter(
                map_tmp,
                pair.height,
                pair.width,
                pair.crs,
                pair.transform,
                probabilities,
                tags,
                alongside=alongside,
            ) as writer,
            contextlib.closing(
                stream_change_probability(
                    model, pair.read, region.height, region.width, tile, overlap, batch_size,
                    on_tiles=bar.update,
                )
            ) as stream,
        ):  # fmt: skip
            for rows in stream:
                encoded = encode(rows.probability, rows.valid, threshold, probabilities)
                writer.write(region.row_off + rows.top, region.col_off + rows.left, encoded)
                valid_pixels += encoded.size if rows.valid is None else int(rows.valid.sum())
                changed_pixels += int(decode_changes(encoded, threshold).sum())
        polygons = None
        if vector_path is not None:
            polygons = write_change_polygons(
                map_tmp, extra_tmp[vector_path], threshold, vector_crs=options.vector_crs
            )
    return PredictionResult(
        out=out,
        quicklook=quicklook_path,
        vector=vector_path,
        height=pair.height,
        width=pair.width,
        region=(int(region.row_off), int(region.col_off), int(region.height), int(region.width)),
        warped=pair.warped,
        valid_pixels=valid_pixels,
        changed_pixels=changed_pixels,
        polygons=polygons,
        seconds=time.perf_counter() - started,
        **gap,
    )


def inspect_scene(pair: ScenePair, name: str) -> PairInspection | None:
    """The quality gap of a scene pair, measured on the central window (at most
    ``INSPECT_WINDOW``²) of the predicted region, t2 already on t1's grid (None: a region too
    small to measure, ``hicd.inspection.pair.MIN_SIDE``)."""
    region = pair.region
    if min(region.height, region.width) < MIN_SIDE:
        return None
    height, width = min(region.height, INSPECT_WINDOW), min(region.width, INSPECT_WINDOW)
    window = Window((region.width - width) // 2, (region.height - height) // 2, width, height)
    t1, t2, _ = pair.read(window)
    return inspect_arrays(t1, t2, name=name)


def gap_fields(inspection: PairInspection | None, info: CheckpointInfo) -> dict[str, Any]:
    """``PredictionResult``'s inspection fields: the gap and the checkpoint's verdict."""
    if inspection is None:
        return {}
    accepted, reason = accepts(
        info.degradation,
        info.degraded_date,
        inspection.suggested_setting,
        inspection.relative_scale,
    )
    return {"inspection": inspection, "gap_accepted": accepted, "gap_reason": reason}
