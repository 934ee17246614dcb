"""Pairing the files of the two dates and the label by name, never by sorted position."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from hicd.data.io import IMAGE_SUFFIXES, RASTERIO_SUFFIXES
from hicd.errors import DataError


@dataclass(frozen=True)
class PairFiles:
    """The files of one bi-temporal sample; ``label`` is None for unlabelled pairs."""

    name: str
    t1: Path
    t2: Path
    label: Path | None = None


def index_folder(folder: Path) -> dict[str, Path]:
    """Map each image's stem to its path; an empty folder or two files with one stem is an error."""
    if not folder.is_dir():
        raise DataError(f"{folder}: folder not found")
    index: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
            continue
        if path.stem in index:
            raise DataError(
                f"{path}: two files share the name '{path.stem}' ({index[path.stem].name})"
            )
        index[path.stem] = path
    if not index:
        raise DataError(f"{folder}: no images found (looked for {', '.join(IMAGE_SUFFIXES)})")
    return index


def read_name_list(path: Path) -> list[str]:
    """Read a split file: one file name (or stem) per line; blank lines and '#' comments skipped."""
    if not path.is_file():
        raise DataError(f"{path}: split list not found")
    names = [line.strip() for line in path.read_text().splitlines()]
    names = [Path(name).stem for name in names if name and not name.startswith("#")]
    if not names:
        raise DataError(f"{path}: split list is empty")
    return names


def pair_folders(
    t1_dir: Path,
    t2_dir: Path,
    label_dir: Path | None,
    names: Iterable[str] | None = None,
) -> list[PairFiles]:
    """Pair the files of ``t1_dir``, ``t2_dir`` and ``label_dir`` by stem.

    With ``names`` only those samples are taken and each must exist in every folder; without,
    every file in any folder must have its partners in the others.
    """
    folders: dict[str, Path] = {"t1": t1_dir, "t2": t2_dir}
    if label_dir is not None:
        folders["label"] = label_dir
    indexes = {key: index_folder(folder) for key, folder in folders.items()}
    everything = sorted(set().union(*indexes.values()))
    wanted = everything if names is None else list(dict.fromkeys(names))
    _check_partners(wanted, indexes, folders)
    return [
        PairFiles(
            name=name,
            t1=indexes["t1"][name],
            t2=indexes["t2"][name],
            label=indexes["label"][name] if "label" in indexes else None,
        )
        for name in wanted
    ]


def _check_partners(
    names: list[str], indexes: Mapping[str, Mapping[str, Path]], folders: Mapping[str, Path]
) -> None:
    for name in names:
        present = [key for key in indexes if name in indexes[key]]
        missing = [key for key in indexes if name not in indexes[key]]
        if missing:
            found = indexes[present[0]][name] if present else None
            where = f"{found}: " if found is not None else f"'{name}': "
            lacking = ", ".join(f"{folders[key]}/{name}.*" for key in missing)
            raise DataError(f"{where}missing partner file {lacking}")


def check_georeference(t1_path: Path, t1_crs: object, t2_path: Path, t2_crs: object) -> None:
    """Both dates georeferenced or neither (DataError naming the files otherwise)."""
    if (t1_crs is None) != (t2_crs is None):
        which, other = (t1_path, t2_path) if t1_crs is not None else (t2_path, t1_path)
        raise DataError(
            f"{which} is georeferenced but {other} is not: give both with a CRS "
            "or both as plain pixel grids"
        )


def check_file_pair(t1_path: str | Path, t2_path: str | Path) -> None:
    """The pairing rules of ``hicd predict`` for two image files, without reading pixels:
    both georeferenced or neither, and georeferenced footprints that overlap."""
    import rasterio
    from rasterio.errors import CRSError, NotGeoreferencedWarning, RasterioError
    from rasterio.warp import transform_bounds

    t1_path, t2_path = Path(t1_path), Path(t2_path)
    rasters = [p for p in (t1_path, t2_path) if p.suffix.lower() in RASTERIO_SUFFIXES]
    if not rasters:
        return  # PNG/JPEG/BMP are plain pixel grids (read by Pillow)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            grids = {}
            for path in rasters:
                with rasterio.open(path) as dataset:
                    grids[path] = (dataset.crs, dataset.bounds)
    except (RasterioError, CRSError) as error:
        raise DataError(f"{error}: unreadable raster") from None
    (crs_1, bounds_1), (crs_2, bounds_2) = (grids.get(p, (None, None)) for p in (t1_path, t2_path))
    check_georeference(t1_path, crs_1, t2_path, crs_2)
    if crs_1 is None:
        return
    try:
        left, bottom, right, top = transform_bounds(crs_2, crs_1, *bounds_2)
    except (RasterioError, CRSError) as error:
        raise DataError(f"{t1_path} and {t2_path}: unreadable georeference ({error})") from None
    a = bounds_1
    if right <= a.left or left >= a.right or top <= a.bottom or bottom >= a.top:
        raise DataError(f"{t1_path} and {t2_path}: the footprints do not overlap")
