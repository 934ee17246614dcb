"""A real JPEG round trip (libjpeg through Pillow) for images of any band count."""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image
from torch import Tensor

_SUBSAMPLING_420 = 2  # Pillow's code for 4:2:0 chroma subsampling


def _roundtrip_plane(plane: np.ndarray, quality: int) -> np.ndarray:
    """Encode an H×W (grayscale) or H×W×3 (RGB) uint8 array as JPEG and decode it."""
    buffer = io.BytesIO()
    options = {"subsampling": _SUBSAMPLING_420} if plane.ndim == 3 else {}
    Image.fromarray(plane).save(buffer, format="JPEG", quality=quality, **options)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return np.array(decoded)


def jpeg_roundtrip(image: Tensor, quality: int) -> Tensor:
    """Encode a C×H×W image in [0, 1] as JPEG at ``quality`` and decode it again.

    The image is rounded to 8 bits first. Three bands are coded as one RGB JPEG (YCbCr with
    4:2:0 chroma subsampling); any other band count is coded band by band as grayscale JPEGs.
    Coding runs on the CPU; the result returns to the input's device and dtype.
    """
    planes = (image.detach().clamp(0, 1) * 255).round().to(device="cpu", dtype=torch.uint8).numpy()
    if planes.shape[0] == 3:
        decoded = _roundtrip_plane(np.ascontiguousarray(planes.transpose(1, 2, 0)), quality)
        decoded = decoded.transpose(2, 0, 1)
    else:
        decoded = np.stack([_roundtrip_plane(plane, quality) for plane in planes])
    out = torch.from_numpy(np.ascontiguousarray(decoded)).to(device=image.device, dtype=image.dtype)
    return out / 255
