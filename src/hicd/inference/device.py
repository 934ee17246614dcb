"""Where a network runs: ``"auto"`` and device names resolved, a model's own device and the
device it computes on."""

from __future__ import annotations

import torch
from torch import nn

from hicd.errors import ConfigError


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


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (CPU for a parameterless module)."""
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def execution_device(model: nn.Module) -> torch.device:
    """Where ``model`` computes: its ``execution_device`` when it sets one (an ONNX Runtime
    network has no parameters but may run on a GPU), else :func:`model_device`."""
    device = getattr(model, "execution_device", None)
    return device if isinstance(device, torch.device) else model_device(model)
