"""Writing a complete degraded copy of a dataset, in its own layout (``hicd degrade``)."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from tqdm import tqdm

from hicd.atomic import atomic_directory
from hicd.data.adapters import bandon_list_path
from hicd.data.io import (
    ValueScale,
    date_scales,
    image_to_tensor,
    read_image,
    write_image_like,
)
from hicd.data.layouts import layout_class, layout_splits
from hicd.defaults import (
    DATE,
    LAYOUT,
    build,
    document,
    layout_option,
    option,
    progress_option,
    seed_option,
    split_option,
    value_scale_option,
)
from hicd.degradations.degrader import Degrader
from hicd.degradations.settings import DATES, DegradationSetting
from hicd.errors import ConfigError, check_choice

MANIFEST = "degradation.json"
MANIFEST_KEYS = ("setting", "seed", "date", "images", "files")


@document
@dataclass(frozen=True)
class DegradeOptions:
    """How a degraded copy is written: the one set of options of
    :func:`write_degraded_dataset` and ``hicd degrade``, whose options are built from these
    fields (their help and defaults); errors name the CLI option.
    """

    seed: int = seed_option()
    date: str | None = option(
        None,
        help="which date to degrade; a full name ending in @t1 or @t2 gives its own, and mixed "
        "draws it per pair",
        default_help=DATE,
    )
    value_scale: ValueScale = value_scale_option()
    overwrite: bool = option(
        False,
        help="replace a previous hicd degrade output in --out",
        default_help="off; any other non-empty folder is refused",
    )
    progress: bool = progress_option(True)
    layout: str = layout_option()
    split: str | None = split_option()

    def __post_init__(self) -> None:
        if self.date is not None:
            check_choice(self.date, DATES, "--date")
        layout_class(self.layout)

    def resolve_date(self, setting: DegradationSetting) -> str:
        """The date degraded where ``setting`` names none; ``date`` is refused where the
        setting draws the date itself (``mixed``) or names another."""
        if self.date is not None and setting.setting == "mixed":
            raise ConfigError(
                f"--date does not apply to --setting {setting.name}, which draws the degraded "
                "date of each pair: drop --date (the t1 share is set by the name, e.g. "
                "mixed-t1p0.25)"
            )
        if self.date is not None and setting.date not in (None, self.date):
            raise ConfigError(
                f"--date {self.date} contradicts --setting {setting.name}: drop one of them"
            )
        return self.date or setting.date or DATE


def write_degraded_dataset(
    data: str | Path,
    out: str | Path,
    setting: DegradationSetting | str,
    options: DegradeOptions | None = None,
    **keywords: Any,
) -> Path:
    """Copy the dataset ``data`` to ``out`` with the images of one date degraded
    (``options.date``, default t2, or the setting's own date, ``resolution-x4@t1``; ``mixed``
    draws the date per pair).

    The copy keeps the layout of ``data`` (``options.layout``: every file at the same relative
    path; with ``options.split``, only that split's pairs and list file). The other date, the
    labels and the list files are copied byte for byte (a BANDON list file is rewritten where a
    degraded JPEG became a PNG; its auxiliary paths are not copied). Degraded images are
    written losslessly (PNG, or GeoTIFF with the source's profile for TIFF input), and
    ``degradation.json`` records the setting, the seed, the date (``either`` for ``mixed``) and
    every image's parameters (``mixed``: with the date and the setting drawn for it). The
    degradation is deterministic in (seed, image name, setting), so two runs give identical
    bytes. The output appears atomically once complete.

    ``options`` (a :class:`DegradeOptions`, default its defaults; ``keywords`` replace its
    fields: ``seed=1``, ``date="t1"``, ...): ``value_scale`` says which pixel value is 1.0 (one
    value, or (t1, t2) of which the degraded date's is used; default: the rule of
    :mod:`hicd.data.io`); degraded values above it are written as the scale.

    ``data`` is never modified: an ``out`` equal to, inside or containing ``data`` (after
    resolving links) is refused. A non-empty ``out`` is refused unless it is a previous
    ``hicd degrade`` output holding only the files hicd wrote, and ``overwrite`` is set.
    """
    options = build(DegradeOptions, options, keywords, "write_degraded_dataset")
    seed, overwrite = options.seed, options.overwrite
    if isinstance(setting, str):
        setting = DegradationSetting.parse(setting)
    date = options.resolve_date(setting)
    data, out = Path(data), Path(out)
    target = check_output_folder(data, out, overwrite)
    scales = dict(zip(DATES, date_scales(options.value_scale), strict=True))
    layout = options.layout
    cls = layout_class(layout)
    generic = layout == LAYOUT
    labels = not generic or (data / "label").is_dir()
    jobs = [
        (split, pair)
        for split in layout_splits(data, layout, options.split)
        for pair in cls.find_pairs(data, split, labels)
    ]
    lists = _list_files(data, layout, options.split)
    inputs = [path for _, pair in jobs for path in (pair.t1, pair.t2, pair.label) if path]
    _check_sources_outside([*inputs, *lists], target)
    degrader = Degrader(setting, seed=seed)
    records: dict[str, dict] = {}
    renamed: dict[str, str] = {}  # degraded images whose name changed (JPEG → PNG)

    def copy(path: Path, tmp: Path) -> None:
        destination = tmp / path.relative_to(data)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)

    with atomic_directory(target, overwrite=overwrite) as tmp:
        for split, pair in tqdm(jobs, desc=f"degrade {setting.name}", disable=not options.progress):
            if pair.label is not None:
                copy(pair.label, tmp)
            arrays = {when: read_image(getattr(pair, when)) for when in DATES}
            tensors = {
                when: image_to_tensor(array, getattr(pair, when), scales[when])[None]
                for when, array in arrays.items()
            }
            t1, t2, (record,) = degrader.pair(
                tensors["t1"], tensors["t2"], names=[pair.name], date=date
            )
            degraded_date = degrader.date_of(record, date)
            copy(getattr(pair, "t1" if degraded_date == "t2" else "t2"), tmp)
            source = getattr(pair, degraded_date)
            folder = tmp / source.relative_to(data).parent
            folder.mkdir(parents=True, exist_ok=True)
            written = write_image_like(
                (t1 if degraded_date == "t1" else t2)[0],
                arrays[degraded_date],
                source,
                folder,
                scales[degraded_date],
            )
            if written.name != source.name:
                renamed[source.relative_to(data).as_posix()] = written.relative_to(tmp).as_posix()
            records[pair.name if generic else f"{split}/{pair.name}"] = record
        for path in lists:
            copy(path, tmp)
            if layout == "bandon":
                _rename_in_list(tmp / path.relative_to(data), renamed)
        manifest = {
            "source": str(data),
            "layout": layout,
            "split": options.split,
            "setting": setting.name,
            "seed": seed,
            "date": setting.degraded_date(date),
            "images": records,
            "files": _written_files(tmp),
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        check_output_folder(data, out, overwrite)  # again: the folder may have changed meanwhile
    return out


def _list_files(data: Path, layout: str, split: str | None) -> list[Path]:
    """The list files a copy keeps: the generic layout's ``list/`` (``list/SPLIT.txt`` with a
    split), BANDON's ``list_BANDON_SPLIT.txt`` of the splits copied; none for split folders."""
    if layout == LAYOUT:
        if split is not None:
            return [data / "list" / f"{split}.txt"]
        folder = data / "list"
        return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []
    if layout == "bandon":
        return [bandon_list_path(data, name) for name in layout_splits(data, layout, split)]
    return []


def _rename_in_list(path: Path, renamed: dict[str, str]) -> None:
    """Point a BANDON list file's image paths to the degraded images written under another
    name (a JPEG source is written as PNG)."""
    lines = []
    for line in path.read_text().splitlines():
        fields = line.split()
        lines.append(" ".join(renamed.get(field, field) for field in fields) if fields else line)
    path.write_text("\n".join(lines) + "\n")


def check_output_folder(data: Path, out: Path, overwrite: bool) -> Path:
    """The real (link-resolved) folder ``hicd degrade`` may write ``out`` to; ConfigError if
    ``out`` overlaps ``data`` or is non-empty and not a replaceable previous output."""
    out_real = out.resolve()
    # the dataset's folders too, in case one of them is a link to somewhere else
    for source in (data, *(data / name for name in ("A", "B", "label", "list"))):
        source_real = source.resolve()
        if out_real == source_real:
            relation = "is"
        elif source_real in out_real.parents:
            relation = "is inside"
        elif out_real in source_real.parents:
            relation = "contains"
        else:
            continue
        what = f"the --data folder {data}" if source == data else f"{source} (part of --data)"
        via = f" (resolved: {out_real})" if out_real != out.absolute() else ""
        raise ConfigError(
            f"--out {out}{via} {relation} {what}; hicd degrade never writes into or over its "
            "input: choose an --out outside it"
        )
    if not out_real.is_dir() or not any(out_real.iterdir()):
        return out_real
    foreign = _foreign_entry(out_real)
    if foreign is not None:
        raise ConfigError(
            f"--out {out}: output folder is not empty and is not an hicd degrade output "
            f"({foreign}); --overwrite replaces only a previous hicd degrade output holding only "
            "the files it wrote: choose an empty or new folder"
        )
    if not overwrite:
        raise ConfigError(
            f"--out {out}: folder is not empty (a previous hicd degrade output); give "
            "--overwrite to replace it"
        )
    return out_real


def _foreign_entry(out: Path) -> str | None:
    """Why ``out`` is not purely a previous ``hicd degrade`` output (a reason naming the first
    offending path), or None: a valid manifest, and nothing but the files it lists as written
    (and their folders), no links."""
    try:
        manifest = json.loads((out / MANIFEST).read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        manifest = None
    if (
        not isinstance(manifest, dict)
        or any(key not in manifest for key in MANIFEST_KEYS)
        or not isinstance(manifest["files"], list)
    ):
        return f"no valid {MANIFEST} with keys {', '.join(MANIFEST_KEYS)}"
    files = {str(name) for name in manifest["files"]} | {MANIFEST}
    folders = {str(parent) for name in files for parent in PurePosixPath(name).parents}
    for root, subfolders, names in os.walk(out):
        for name in (*subfolders, *names):
            path = Path(root, name)
            relative = path.relative_to(out).as_posix()
            if path.is_symlink():
                return f"{path} is a link"
            if relative not in (folders if name in subfolders else files):
                return f"{path} was not written by hicd degrade"
    return None


def _written_files(folder: Path) -> list[str]:
    """Every file under ``folder``, as sorted relative POSIX paths."""
    return sorted(
        path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()
    )


def _check_sources_outside(paths: list[Path], out: Path) -> None:
    """Refuse input files that are links into ``out`` (replacing ``out`` would delete them)."""
    for path in paths:
        real = path.resolve()
        if real == out or out in real.parents:
            raise ConfigError(
                f"{path}: is a link into --out {out}; hicd degrade never writes over its input: "
                "choose an --out outside it"
            )
