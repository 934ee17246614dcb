"""Whole-image change probability by overlapping tiles blended with smooth weights.

Images of any size are cut into the deterministic windows of :func:`hicd.data.grid_windows`,
run through the model in batches, and each window's change probability is accumulated with a
separable raised-cosine weight that is highest in the window centre and never zero at its
edges. The sum is divided by the summed weights, so tile borders (where the network sees the
least context) count least and no seams show. An image no larger than the tile is one pass.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from hicd.data.tiling import Window, grid_windows
from hicd.errors import ConfigError, DataError

WEIGHT_FLOOR = 0.05


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"`` (or None): the first CUDA GPU if there is one, else the CPU; anything else as given."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ConfigError(f"device {device!r} is not valid ({error})") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} requested but CUDA is not available")
    return resolved


def blend_weights(
    height: int, width: int, floor: float = WEIGHT_FLOOR, device: torch.device | None = None
) -> Tensor:
    """H×W separable raised-cosine (Hann-like) weights in [``floor``, 1], symmetric, peak at centre."""

    def profile(length: int) -> Tensor:
        position = (torch.arange(length, device=device, dtype=torch.float32) + 0.5) / length
        return floor + (1 - floor) * torch.sin(math.pi * position) ** 2

    return profile(height)[:, None] * profile(width)[None, :]


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (CPU for a parameterless module)."""
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def predict_change_probability(
    model: nn.Module,
    t1: Tensor,
    t2: Tensor,
    tile: int = 512,
    overlap: int = 128,
    batch_size: int = 4,
    device: str | torch.device | None = None,
) -> Tensor:
    """Change probability (softmax of the logits, class 1) of one image pair of any size.

    Args:
        model: a change-detection network in eval mode taking [0, 1] inputs of any window size
            and returning a ``ChangeOutput`` (or the B×2×h×w logits themselves).
        t1, t2: C×H×W float images in [0, 1] (or B×C×H×W batches of equal-size pairs).
        tile: window side in pixels; an image no larger than ``tile`` is a single pass.
        overlap: minimum overlap of neighbouring windows, in [0, tile).
        batch_size: windows per forward pass.
        device: where the model runs (default: the model's device); the input stays where it is
            and only batches of windows are moved.

    Returns:
        Float32 H×W probabilities (B×H×W for batched input) on the device of ``t1``.
    """
    if t1.shape != t2.shape or t1.ndim not in (3, 4):
        raise DataError(
            "t1 and t2 must be C×H×W (or B×C×H×W) tensors of the same shape, "
            f"got {tuple(t1.shape)} and {tuple(t2.shape)}"
        )
    if batch_size < 1:
        raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
    if t1.ndim == 4:
        return torch.stack(
            [
                predict_change_probability(model, a, b, tile, overlap, batch_size, device)
                for a, b in zip(t1, t2, strict=True)
            ]
        )
    device = model_device(model) if device is None else resolve_device(device)
    height, width = t1.shape[-2:]
    windows = grid_windows(height, width, tile, overlap)
    with torch.inference_mode():
        if len(windows) == 1:
            return forward_probability(model, t1[None], t2[None], device)[0].to(t1.device)
        return _blend(model, t1, t2, windows, batch_size, device)


def forward_probability(model: nn.Module, t1: Tensor, t2: Tensor, device: torch.device) -> Tensor:
    """B×h×w change probabilities (softmax, class 1) of a B×C×h×w batch, computed on ``device``."""
    dtype = next(model.parameters(), t1).dtype
    output = model(t1.to(device, dtype), t2.to(device, dtype))
    logits = output.logits if hasattr(output, "logits") else output
    return logits.float().softmax(dim=1)[:, 1]


def _blend(
    model: nn.Module,
    t1: Tensor,
    t2: Tensor,
    windows: list[Window],
    batch_size: int,
    device: torch.device,
) -> Tensor:
    height, width = t1.shape[-2:]
    # grid_windows gives equal-size windows, so one weight map serves them all.
    weight = blend_weights(windows[0].height, windows[0].width, device=device)
    local_weight = weight.to(t1.device)
    total = torch.zeros(height, width, dtype=torch.float32, device=t1.device)
    weights = torch.zeros_like(total)
    for start in range(0, len(windows), batch_size):
        batch = windows[start : start + batch_size]
        probability = forward_probability(
            model,
            torch.stack([t1[(..., *w.slices)] for w in batch]),
            torch.stack([t2[(..., *w.slices)] for w in batch]),
            device,
        )
        weighted = (probability * weight).to(t1.device)
        for window, values in zip(batch, weighted, strict=True):
            total[window.slices] += values
            weights[window.slices] += local_weight
    return (total / weights).clamp_(0, 1)
