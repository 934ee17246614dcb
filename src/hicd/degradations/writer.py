"""Writing a complete degraded copy of a dataset in the generic layout (``hicd degrade``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from hicd.atomic import atomic_directory
from hicd.data.io import RASTERIO_SUFFIXES, image_to_tensor, pixel_scale, read_image
from hicd.data.pairing import pair_folders
from hicd.degradations.degrader import Degrader
from hicd.degradations.settings import DegradationSetting

DATE_FOLDERS = {"t1": "A", "t2": "B"}


def write_degraded_dataset(
    data: str | Path,
    out: str | Path,
    setting: DegradationSetting | str,
    seed: int = 0,
    date: Literal["t1", "t2"] = "t2",
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Copy the generic-layout dataset ``data`` to ``out`` with the images of ``date`` degraded.

    The other date, the labels and the split lists are copied byte for byte. Degraded images are
    written losslessly (PNG, or GeoTIFF with the source's profile for TIFF input), and
    ``degradation.json`` records the setting, the seed and every image's parameters. The
    degradation is deterministic in (seed, image name, setting), so two runs give identical
    bytes. The output appears atomically once complete.
    """
    data, out = Path(data), Path(out)
    if isinstance(setting, str):
        setting = DegradationSetting.parse(setting)
    label_dir = data / "label" if (data / "label").is_dir() else None
    pairs = pair_folders(data / "A", data / "B", label_dir)
    degrader = Degrader(setting, seed=seed)
    records: dict[str, dict] = {}
    with atomic_directory(out, overwrite=overwrite) as tmp:
        for name in ("A", "B", *(["label"] if label_dir else [])):
            (tmp / name).mkdir()
        if (data / "list").is_dir():
            shutil.copytree(data / "list", tmp / "list")
        kept_date = "t1" if date == "t2" else "t2"
        for pair in tqdm(pairs, desc=f"degrade {setting.name}", disable=not progress):
            shutil.copyfile(
                getattr(pair, kept_date),
                tmp / DATE_FOLDERS[kept_date] / getattr(pair, kept_date).name,
            )
            if pair.label is not None:
                shutil.copyfile(pair.label, tmp / "label" / pair.label.name)
            source = getattr(pair, date)
            array = read_image(source)
            degraded, image_records = degrader(
                image_to_tensor(array, source)[None], names=[pair.name]
            )
            write_like(degraded[0], array, source, tmp / DATE_FOLDERS[date])
            records[pair.name] = image_records[0]
        manifest = {
            "source": str(data),
            "setting": setting.name,
            "seed": seed,
            "date": date,
            "images": records,
        }
        (tmp / "degradation.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return out


def write_like(image: torch.Tensor, source_array: np.ndarray, source: Path, folder: Path) -> Path:
    """Write a [0, 1] C×H×W tensor with the pixel type of ``source_array``: GeoTIFF (keeping the
    source's georeference) for TIFF sources, PNG otherwise."""
    scale = pixel_scale(source_array, source)
    array = image.permute(1, 2, 0).numpy()
    if np.issubdtype(source_array.dtype, np.integer):
        array = np.round(array * scale).astype(source_array.dtype)
    if source.suffix.lower() in RASTERIO_SUFFIXES:
        return _write_geotiff_like(array, source, folder / source.name)
    path = folder / f"{source.stem}.png"
    Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array).save(path)
    return path


def _write_geotiff_like(array: np.ndarray, source: Path, path: Path) -> Path:
    import rasterio

    with rasterio.open(source) as src:
        profile = src.profile
    profile.update(driver="GTiff", dtype=array.dtype.name, count=array.shape[2])
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.moveaxis(array, -1, 0))
    return path
