"""The Python API of prediction: ``hicd.ChangeDetector``.

>>> detector = ChangeDetector.from_checkpoint("student.ckpt")
>>> probability = detector.predict(t1_array, t2_array)           # H×W float32 in [0, 1]
>>> detector.predict_files("a.tif", "b.tif", "change.tif")       # what ``hicd predict`` does
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from hicd.atomic import require_folder
from hicd.data.io import (
    ValueScale,
    check_float_values,
    date_scales,
    default_scale,
    image_to_tensor,
)
from hicd.data.pairing import pair_folders
from hicd.errors import ConfigError, DataError
from hicd.inference.device import resolve_device
from hicd.inference.engine import DEFAULT_ENGINE, build_engine, check_engine
from hicd.inference.scene import (
    PredictionResult,
    PredictOptions,
    check_output_paths,
    default_batch_size,
    predict_scene,
    resolve_quicklook,
    resolve_tiling,
)
from hicd.inference.tiled import predict_change_probability
from hicd.inspection import PairInspection, inspect_pair
from hicd.models.checkpoint import CheckpointInfo, load_model

__all__ = ["ChangeDetector", "PairInspection", "PredictOptions", "PredictionResult", "inspect_pair"]

ArrayOrTensor = np.ndarray | Tensor
OPTION = "value_scale"  # the argument named in pixel-value errors of in-memory inputs


class ChangeDetector:
    """A change-detection network ready to predict, with what its checkpoint says about it.

    Args:
        model: a change-detection network taking [0, 1] inputs (it is put in eval mode).
        info: the checkpoint's metadata (band count, training tile size).
        device: ``"auto"`` (a GPU if there is one), ``"cpu"``, ``"cuda:1"``, ...
    """

    def __init__(
        self, model: nn.Module, info: CheckpointInfo, device: str | torch.device = "auto"
    ) -> None:
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.info = info

    @classmethod
    def from_checkpoint(
        cls, path: str | Path, device: str | torch.device = "auto", engine: str = DEFAULT_ENGINE
    ) -> ChangeDetector:
        """Load a checkpoint written by ``hicd fit`` or ``save_model_checkpoint``.

        ``engine``: ``"torch"``, ``"onnx"`` (ONNX Runtime, the graph exported on first use and
        cached, see ``hicd.inference.engine``) or ``"auto"`` (ONNX Runtime on the CPU).
        """
        resolved = resolve_device(device)
        check_engine(engine)
        model, info = load_model(path, "cpu")
        return cls(build_engine(path, model, info, engine, resolved), info, resolved)

    @property
    def bands(self) -> int:
        """Bands per date the network takes."""
        return self.info.bands

    def predict(
        self,
        t1: ArrayOrTensor,
        t2: ArrayOrTensor,
        tile: int | None = None,
        overlap: int | None = None,
        batch_size: int | None = None,
        value_scale: ValueScale = None,
    ) -> ArrayOrTensor:
        """Change probability of an in-memory pair of any size (blended tiles where needed).

        Pixel values follow the rule of ``hicd.data.io``: uint8 is divided by 255; other
        integer types by their maximum, provided the values reach above half of it (else give
        ``value_scale``); floats must lie in [0, 1] unless ``value_scale`` is given; NaN and
        infinite values are refused. Errors name the date (``t1``, ``t2``).

        Args:
            t1, t2: numpy arrays H×W×C (or C×H×W, or H×W for one band) or tensors C×H×W or
                B×C×H×W, of any pixel type.
            tile, overlap: window side and overlap (default: the checkpoint's tile size, else 512;
                tile / 4).
            batch_size: windows per forward pass (default: 8 on a GPU, 4 on the CPU).
            value_scale: pixel value that maps to 1.0 (values are divided by it and clipped to
                [0, 1]), for both dates or a pair (t1, t2).

        Returns:
            float32 change probabilities: an H×W numpy array for numpy inputs, an H×W (or
            B×H×W) tensor on the inputs' device for tensors.
        """
        tiling = resolve_tiling(tile, overlap, self.info)
        if isinstance(t1, np.ndarray) != isinstance(t2, np.ndarray):
            raise DataError("t1 and t2 must both be numpy arrays or both be tensors")
        numpy_in = isinstance(t1, np.ndarray)
        scales = date_scales(value_scale, "value_scale")
        a = self._as_tensor(t1, "t1", scales[0])
        b = self._as_tensor(t2, "t2", scales[1])
        if a.shape != b.shape:
            raise DataError(f"t1 and t2 differ in shape: {tuple(a.shape)} and {tuple(b.shape)}")
        if batch_size is None:
            batch_size = default_batch_size(self.device)
        probability = predict_change_probability(
            self.model, a, b, tiling.tile, tiling.overlap, batch_size, self.device
        )
        return probability.cpu().numpy() if numpy_in else probability

    def _as_tensor(self, image: ArrayOrTensor, name: str, value_scale: float | None) -> Tensor:
        """A float32 (B×)C×H×W tensor in [0, 1] with the model's band count."""
        if isinstance(image, np.ndarray):
            return image_to_tensor(self._channels_last(image, name), name, value_scale, OPTION)
        if not isinstance(image, Tensor):
            raise DataError(f"{name}: expected a numpy array or a torch tensor, got {type(image)}")
        if image.ndim not in (3, 4):
            raise DataError(f"{name}: a tensor must be C×H×W or B×C×H×W, got {tuple(image.shape)}")
        if image.shape[-3] != self.bands:
            raise DataError(f"{name}: has {image.shape[-3]} bands but the model takes {self.bands}")
        return (image.to(torch.float32) / _tensor_scale(image, name, value_scale)).clamp_(0.0, 1.0)

    def _channels_last(self, array: np.ndarray, name: str) -> np.ndarray:
        if array.ndim == 2:
            array = array[:, :, None]
        if array.ndim != 3:
            raise DataError(f"{name}: an array must be H×W×C or C×H×W, got shape {array.shape}")
        if array.shape[-1] == self.bands:
            return array
        if array.shape[0] == self.bands:
            return array.transpose(1, 2, 0)
        raise DataError(
            f"{name}: shape {array.shape} has no axis of {self.bands} bands "
            "(the model's band count) first or last"
        )

    def predict_files(
        self,
        t1: str | Path,
        t2: str | Path,
        out: str | Path,
        options: PredictOptions | None = None,
        **keywords: Any,
    ) -> PredictionResult:
        """Write the change map of two image files (what ``hicd predict`` does).

        t1 defines the output grid: a t2 on another grid (resolution, size, CRS, extent) is
        resampled onto it with ``resampling``, and only where both footprints overlap is
        predicted (elsewhere, and where either date is nodata, the map is nodata).

        Args:
            t1, t2: image files (GeoTIFF or any raster GDAL reads; PNG/JPEG as pixel grids).
            out: GeoTIFF to write: uint8 0/1 (255 nodata), or with ``probabilities`` float32
                change probability (NaN nodata).
            options: a :class:`PredictOptions` (default: its defaults).
            keywords: fields of ``PredictOptions`` that replace those of ``options``
                (``tile``, ``overlap``, ``batch_size``, ``threshold``, ``probabilities``,
                ``resampling``, ``bands``, ``value_scale``, ``quicklook``, ``vector``,
                ``vector_crs``, ``progress``, ``overwrite``).
        """
        options = PredictOptions.build(options, **keywords)
        return predict_scene(self.model, self.info, t1, t2, out, options)

    def predict_folders(
        self,
        t1_dir: str | Path,
        t2_dir: str | Path,
        out_dir: str | Path,
        options: PredictOptions | None = None,
        *,
        vector_dir: str | Path | None = None,
        **keywords: Any,
    ) -> list[PredictionResult]:
        """``predict_files`` for every pair of two folders, paired by file name (stem).

        Writes ``out_dir/NAME.tif`` and ``out_dir/NAME.png`` (unless ``quicklook`` is False),
        and ``vector_dir/NAME.geojson`` if given; a file without its partner in the other
        folder is an error raised before any prediction, and so is any existing output unless
        ``overwrite``. ``options`` and ``keywords`` as for ``predict_files`` (``quicklook``
        True or False, ``vector`` not given: see ``vector_dir``).
        """
        options = PredictOptions.build(options, **keywords)
        if not isinstance(options.quicklook, bool | None) or options.vector:
            raise ConfigError(
                "quicklook names one file and vector one GeoJSON: in folder mode quick-looks go "
                "to the output folder and polygons to vector_dir (--vector)"
            )
        pairs = pair_folders(Path(t1_dir), Path(t2_dir), None)
        out_dir = Path(out_dir)
        require_folder(out_dir)
        jobs = []
        for pair in pairs:
            out = out_dir / f"{pair.name}.tif"
            vector = Path(vector_dir) / f"{pair.name}.geojson" if vector_dir else None
            extra = [p for p in (resolve_quicklook(out, options.quicklook), vector) if p]
            check_output_paths(pair.t1, pair.t2, out, extra, options.overwrite)
            jobs.append((pair, out, replace(options, vector=vector)))
        return [self.predict_files(pair.t1, pair.t2, out, job) for pair, out, job in jobs]


def _tensor_scale(image: Tensor, name: str, value_scale: float | None) -> float:
    """The value that maps to 1.0 in a tensor, by the rule of ``hicd.data.io``."""
    dtype = image.dtype
    if dtype == torch.bool or dtype.is_complex:
        raise DataError(f"{name}: unsupported pixel type {dtype}")
    if dtype.is_floating_point:
        if image.numel():
            extremes = torch.stack([image.min(), image.max()]).float().cpu().numpy()
            check_float_values(extremes, name, value_scale is not None, OPTION)
        return default_scale(np.float32, lambda: (0.0, 1.0), name, value_scale, OPTION)

    def value_range() -> tuple[float, float]:
        if not image.numel():
            return 0.0, float(torch.iinfo(dtype).max)
        return image.min().item(), image.max().item()

    numpy_type = np.dtype(str(dtype).removeprefix("torch."))
    return default_scale(numpy_type, value_range, name, value_scale, OPTION)
