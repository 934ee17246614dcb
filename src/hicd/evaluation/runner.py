"""Scoring checkpoints across quality-difference settings (the engine of ``hicd evaluate``).

Protocol: every pair is read at native resolution; under each setting one date is degraded
deterministically, exactly as ``hicd degrade --seed`` writes it (or read from a released folder
of degraded t2 images); each checkpoint predicts the whole image by blended tiles; one confusion
matrix per (checkpoint, setting) is summed over the whole set (labels never resized, 255
ignored) and the metrics are taken from it. Each image is degraded once per setting and shared
by all checkpoints.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from hicd.data import PairDataset, open_layout
from hicd.data.dataset import Sample
from hicd.data.io import ValueScale
from hicd.data.layouts import layout_class
from hicd.data.tiling import Tiling
from hicd.defaults import (
    DATE,
    LAYOUT,
    SETTING,
    THRESHOLD,
    batch_size_for,
    batch_size_option,
    build,
    device_option,
    document,
    engine_option,
    layout_option,
    option,
    overlap_option,
    progress_option,
    seed_option,
    split_option,
    tile_option,
    value_scale_option,
)
from hicd.degradations import DATES, DegradationSetting, expand_settings
from hicd.errors import ConfigError, DataError, check_choice
from hicd.evaluation.examples import ExampleCollector
from hicd.evaluation.metrics import ChangeMetrics, cell_counts
from hicd.evaluation.results import Progress, Score, check_out
from hicd.inference.device import resolve_device
from hicd.inference.engine import DEFAULT_ENGINE, build_engine, check_engine, file_sha256
from hicd.inference.tiled import predict_change_probability
from hicd.models import ChangeDetectionModel
from hicd.models.checkpoint import CheckpointInfo, load_model

DEFAULT_SETTINGS = "clean,resolution-x4,resolution-x8,single,multi-x4"
EXAMPLE_SETTING = SETTING
"""The setting examples.png is drawn under when it is evaluated (``hicd.defaults.SETTING``)."""


@document
@dataclass(frozen=True)
class EvaluateOptions:
    """How checkpoints are scored, checked when built: the one set of options of
    :func:`evaluate_checkpoints` and ``hicd evaluate``, whose options are built from these
    fields (their help and defaults); errors name the CLI option.
    """

    layout: str = layout_option()
    split: str | None = split_option()
    settings: str | None = option(
        None,
        help="comma-separated settings: clean, resolution-xS, single (every kind and severity), "
        "single-KIND, single-KIND-sN, multi-xS, any of these with @t1/@t2 (that date instead of "
        "--date), mixed, and grid (the 26 settings of the robustness grid)",
        default_help=f"{DEFAULT_SETTINGS}; only the --degraded-t2 folder when that is given",
    )
    tile: int | None = tile_option()
    overlap: int | None = overlap_option()
    batch_size: int | None = batch_size_option()
    seed: int = seed_option()
    device: str = device_option()
    engine: str = engine_option()
    degraded_t2_dir: str | Path | None = option(
        None,
        help="folder of already degraded t2 images with the dataset's names (released sets)",
        default_help="none",
    )
    degraded_name: str = option("released", help="setting name reported for --degraded-t2")
    date: str = option(
        DATE, help="which date to degrade where a setting names none (@t1/@t2; mixed draws its own)"
    )
    names: tuple[str, ...] | None = option(
        None, help="display name of each checkpoint, in order", default_help="file stems"
    )
    examples: int = option(4, help="pairs in examples.png (0: none)")
    ignore_value: int | None = option(
        None, help="label value to ignore (e.g. 255 for 0/1/255 labels)", default_help="none"
    )
    value_scale: ValueScale = value_scale_option()
    workers: int = option(0, help="processes that read and degrade ahead (0: inline)")
    progress: bool = progress_option(True)
    cell: int | None = option(
        None,
        help="also return the confusion counts of every cell×cell window of every pair (key "
        "cells: one [tp, fp, tn, fn] per window), the units of "
        "hicd.evaluation.statistics.bootstrap_f1",
        default_help="none",
    )
    overwrite: bool = option(
        False,
        help="replace the results of an earlier evaluation in --out",
        default_help="refuse",
    )
    resume: bool = option(
        False,
        help="finish the interrupted evaluation in --out: skip the settings it finished "
        "(refused when checkpoints, data or options differ)",
    )

    def __post_init__(self) -> None:
        if self.settings is not None and not isinstance(self.settings, str):
            object.__setattr__(self, "settings", ",".join(str(item) for item in self.settings))
        if self.names is not None:
            object.__setattr__(self, "names", tuple(self.names))
        if self.examples < 0 or self.workers < 0 or (self.batch_size or 1) < 1:
            raise ConfigError("--examples and --workers must be >= 0 and --batch-size >= 1")
        check_choice(self.date, DATES, "--date")
        check_engine(self.engine)
        layout_class(self.layout)
        Tiling.check_options(self.tile, self.overlap)  # an explicit tile/overlap checked now


@dataclass(frozen=True)
class Case:
    """One evaluated setting: degraded on the fly (``setting``) or read from ``t2_dir``."""

    name: str
    setting: DegradationSetting | None = None
    t2_dir: Path | None = None


@dataclass
class Entrant:
    """A loaded checkpoint and how it predicts."""

    name: str
    path: Path
    model: ChangeDetectionModel
    info: CheckpointInfo
    tile: int
    overlap: int


def build_cases(
    settings: str | Sequence[str] | None,
    degraded_t2_dir: str | Path | None = None,
    degraded_name: str = "released",
) -> list[Case]:
    """The settings to evaluate, in order.

    ``settings`` is a comma-separated list for :func:`hicd.degradations.expand_settings` (or a
    sequence of such names); None means :data:`DEFAULT_SETTINGS`, or only the released folder
    when ``degraded_t2_dir`` is given. The released folder comes last, named ``degraded_name``.
    """
    if settings is None and degraded_t2_dir is None:
        settings = DEFAULT_SETTINGS
    if settings is not None and not isinstance(settings, str):
        settings = ",".join(str(item) for item in settings)
    cases = [Case(s.name, setting=s) for s in expand_settings(settings)] if settings else []
    if degraded_t2_dir is not None:
        if not degraded_name or any(case.name == degraded_name for case in cases):
            raise ConfigError(
                f"--degraded-name {degraded_name!r} must be non-empty and differ from the "
                "names in --settings"
            )
        cases.append(Case(degraded_name, t2_dir=Path(degraded_t2_dir)))
    return cases


def model_names(checkpoints: Sequence[Path], names: Sequence[str] | None) -> list[str]:
    """Display names: ``names`` as given, else file stems (``folder/stem`` where stems repeat)."""
    if names is not None:
        names = list(names)
        if len(names) != len(checkpoints):
            raise ConfigError(
                f"got {len(names)} --name for {len(checkpoints)} --checkpoint; give one per "
                "checkpoint or none"
            )
    else:
        names = [path.stem for path in checkpoints]
        if len(set(names)) < len(names):
            names = [f"{path.parent.name}/{path.stem}" for path in checkpoints]
    if len(set(names)) < len(names) or not all(names):
        raise ConfigError(f"model names must be unique and non-empty, got {names}; use --name")
    return names


def _samples(dataset: PairDataset, workers: int) -> Iterator[Sample]:
    if workers <= 0:
        return (dataset[index] for index in range(len(dataset)))
    return iter(DataLoader(dataset, batch_size=None, num_workers=workers))


def _example_case(cases: Sequence[Case]) -> Case:
    """``multi-x4`` when evaluated, else the last degraded setting, else the first."""
    by_name = {case.name: case for case in cases}
    degraded = [case for case in cases if case.name != "clean"]
    return by_name.get(EXAMPLE_SETTING) or (degraded[-1] if degraded else cases[0])


def _load(
    checkpoints: Sequence[Path],
    names: Sequence[str],
    device: torch.device,
    tile: int | None,
    overlap: int | None,
    engine: str = DEFAULT_ENGINE,
) -> list[Entrant]:
    entrants = []
    for path, name in zip(checkpoints, names, strict=True):
        model, info = load_model(path, "cpu")
        model = build_engine(path, model, info, engine, device)
        tiling = Tiling.resolve(tile, overlap, info.tile_size)
        entrants.append(Entrant(name, path, model, info, tiling.tile, tiling.overlap))
    return entrants


def _sha256(path: Path) -> str | None:
    if not path.is_file():
        return None  # reported as missing when the models are loaded
    return file_sha256(path)


def run_identity(
    checkpoints: Sequence[Path],
    names: Sequence[str],
    data: str | Path,
    cases: Sequence[Case],
    options: EvaluateOptions,
) -> dict[str, Any]:
    """What makes two evaluations the same run (``--resume`` refuses when it differs)."""
    value_scale = options.value_scale
    return {
        "checkpoints": [
            {"name": name, "path": str(path.resolve()), "sha256": _sha256(path)}
            for path, name in zip(checkpoints, names, strict=True)
        ],
        "data": str(Path(data).resolve()),
        **({"layout": options.layout} if options.layout != LAYOUT else {}),
        "split": options.split,
        "settings": [case.name for case in cases],
        "released t2 folder": next((str(c.t2_dir.resolve()) for c in cases if c.t2_dir), None),
        "seed": options.seed,
        "date": options.date,
        "tile": options.tile,
        "overlap": options.overlap,
        "ignore value": options.ignore_value,
        "value scale": list(value_scale) if isinstance(value_scale, tuple) else value_scale,
        "cell": options.cell,
    }


def _check_bands(sample: Sample, entrant: Entrant) -> None:
    bands = sample["t1"].shape[0]
    if bands != entrant.info.bands:
        raise DataError(
            f"{entrant.path}: the model takes {entrant.info.bands} bands per date but pair "
            f"'{sample['name']}' has {bands}"
        )


def evaluate_checkpoints(
    checkpoints: Sequence[str | Path],
    data: str | Path,
    options: EvaluateOptions | None = None,
    *,
    out: str | Path | None = None,
    **keywords: Any,
) -> list[dict[str, Any]]:
    """Score each checkpoint under each setting on a dataset (what ``hicd evaluate`` does).

    Args:
        checkpoints: hicd checkpoint files.
        data: dataset folder in ``options.layout`` (generic: ``A/``, ``B/``, ``label/``,
            optional ``list/SPLIT.txt``; see ``hicd.data.LAYOUTS``).
        options: an :class:`EvaluateOptions` (default: its defaults): split, settings, tiling,
            seed, device, engine, released t2 folder, names, examples, ... (see its fields).
        out: folder for results.json/.csv/.md, confusion.json, robustness.png, examples.png
            and progress.json (None: write nothing). The results are rewritten after every
            setting, so an interrupted run keeps the settings it finished.
        keywords: fields of ``EvaluateOptions`` that replace those of ``options``
            (``split="test"``, ``settings="clean,multi-x4"``, ``seed=1``, ...).

    Returns:
        One dict per (checkpoint, setting), checkpoint-major, with the keys model, setting,
        precision, recall, f1, iou, oa and kappa (fractions in [0, 1]), and ``cells`` when
        ``options.cell`` is given.
    """
    options = build(EvaluateOptions, options, keywords, "evaluate_checkpoints")
    split, seed, date, cell = options.split, options.seed, options.date, options.cell
    degraded_t2_dir = options.degraded_t2_dir
    checkpoints = [Path(path) for path in checkpoints]
    if out is not None:
        out = Path(out)
        check_out(out, options.overwrite, options.resume)
    if not checkpoints:
        raise ConfigError("no checkpoint to evaluate: give at least one --checkpoint")
    cases = build_cases(options.settings, degraded_t2_dir, options.degraded_name)
    names = model_names(checkpoints, options.names)
    datasets = {
        case.name: open_layout(
            data,
            options.layout,
            split,
            t2_dir=case.t2_dir,
            degradation=case.setting,
            degraded_date=date,
            degradation_seed=seed,
            ignore_value=options.ignore_value,
            value_scale=options.value_scale,
        )
        for case in cases
    }
    progress_file = None
    finished: dict[str, dict[str, Any]] = {}
    if out is not None:
        progress_file = Progress(out, run_identity(checkpoints, names, data, cases, options))
        if options.resume:
            finished = progress_file.load()
    device = resolve_device(options.device)
    batch_size = options.batch_size or batch_size_for(device.type)
    entrants = _load(checkpoints, names, device, options.tile, options.overlap, options.engine)

    example_case = _example_case(cases)
    collector = ExampleCollector(options.examples)
    total = sum(len(dataset) for dataset in datasets.values())
    with tqdm(total=total, desc="evaluate", unit="pair", disable=not options.progress) as bar:
        for case in cases:
            if case.name in finished:
                bar.update(len(datasets[case.name]))
                continue
            bar.set_postfix_str(case.name)
            metrics = {e.name: ChangeMetrics() for e in entrants}
            cells: dict[str, list[torch.Tensor]] = {e.name: [] for e in entrants}
            for index, sample in enumerate(_samples(datasets[case.name], options.workers)):
                probabilities = {}
                for entrant in entrants:
                    _check_bands(sample, entrant)
                    probabilities[entrant.name] = predict_change_probability(
                        entrant.model,
                        sample["t1"],
                        sample["t2"],
                        tile=entrant.tile,
                        overlap=entrant.overlap,
                        batch_size=batch_size,
                    )
                    change = (probabilities[entrant.name] > THRESHOLD).long()
                    metrics[entrant.name].update(change[None], sample["mask"][None])
                    if cell is not None:
                        cells[entrant.name].append(cell_counts(change, sample["mask"], cell))
                if case is example_case:
                    collector.offer(index, sample, probabilities)
                bar.update()
            finished[case.name] = {
                e.name: {
                    "counts": metrics[e.name].counts(),
                    **({"cells": torch.cat(cells[e.name]).tolist()} if cell is not None else {}),
                }
                for e in entrants
            }
            if progress_file is not None:
                context = _context(entrants, data, options)
                progress_file.save(finished, _scores(names, cases, finished), context)
            if out is not None and case is example_case:
                _write_examples(out, collector, names, example_case)

    scores = _scores(names, cases, finished)
    rows = [score.row() for score in scores]
    if cell is not None:
        for row in rows:
            row["cells"] = finished[row["setting"]][row["model"]]["cells"]
    if out is not None:
        from hicd.evaluation.plots import plot_robustness

        plot_robustness(rows, out / "robustness.png")
    return rows


def _scores(
    names: Sequence[str], cases: Sequence[Case], finished: dict[str, dict[str, Any]]
) -> list[Score]:
    """Checkpoint-major scores of the finished settings, in the order of a full run."""
    return [
        Score(name, case.name, finished[case.name][name]["counts"])
        for name in names
        for case in cases
        if case.name in finished
    ]


def _context(
    entrants: Sequence[Entrant], data: str | Path, options: EvaluateOptions
) -> dict[str, str]:
    split, layout = options.split, options.layout
    where = f" (split `{split}`)" if split else " (all pairs)"
    if layout != LAYOUT:
        where = f" ({layout} layout, " + (f"split `{split}`)" if split else "every split)")
    context = {
        "data": f"`{data}`{where}",
        "degraded date": f"{options.date} (settings named @t1/@t2: that date; mixed: drawn per "
        f"pair), seed {options.seed}",
    }
    if options.degraded_t2_dir is not None:
        context["released t2 images"] = f"`{options.degraded_t2_dir}`"
    for e in entrants:
        context[f"model {e.name}"] = f"`{e.path}` (tile {e.tile}, overlap {e.overlap})"
    return context


def _write_examples(
    out: Path, collector: ExampleCollector, models: Sequence[str], example_case: Case
) -> None:
    """examples.png, drawn as soon as the example setting is finished (so that an interrupted
    run keeps it and ``--resume`` need not compute that setting again)."""
    from hicd.evaluation.plots import plot_examples

    if collector.examples:
        plot_examples(collector.examples, models, example_case.name, out / "examples.png")
    else:
        (out / "examples.png").unlink(missing_ok=True)  # not left over from an earlier run
