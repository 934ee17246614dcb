"""The checkpoint format every hicd tool reads: what prediction needs besides the weights.

A checkpoint is a ``torch.save``d dict (Lightning's ``.ckpt`` files qualify) holding
``checkpoint["hicd"]``, the metadata below, and ``checkpoint["state_dict"]`` in which the
predictive network's weights carry the prefix ``model.`` (other entries are ignored).

Checkpoints are read with ``torch.load(weights_only=True)``: tensors, containers and plain
values only, so loading a file never runs code from it. Anything else is refused with a line
saying what the file is (see "Checkpoints" in docs/prediction.md).
"""

from __future__ import annotations

import pickle
import pickletools
import re
import warnings
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hicd.atomic import atomic_path
from hicd.errors import DataError
from hicd.models.base import ChangeDetectionModel
from hicd.models.registry import create_model

METADATA_KEY = "hicd"
MODEL_PREFIX = "model."
RECIPE = (
    "load the weights into a model from hicd.models.create_model(...) and save it with "
    "hicd.models.checkpoint.save_model_checkpoint(path, model, "
    "CheckpointInfo(model_config=dict(model.config))) (see Checkpoints in docs/prediction.md)"
)
IMAGE_SIGNATURES = {
    b"\x89PNG\r\n\x1a\n": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"II*\x00": "a TIFF image",
    b"MM\x00*": "a TIFF image",
    b"II+\x00": "a TIFF image",
    b"MM\x00+": "a TIFF image",
}


@dataclass
class CheckpointInfo:
    """What a checkpoint says about its network.

    Attributes:
        model_config: ``create_model(**model_config)`` rebuilds the architecture (it includes the
            band count and the input normalisation).
        role: ``"teacher"`` or ``"student"``.
        method: distillation method of a student (``none``, ``feature``, ``logit``, ``hicd``).
        degradation: name of the quality-difference setting used in training (None: clean).
        degraded_date: which date was degraded in training: ``t1``, ``t2``, or ``either``
            (``mixed``: drawn per sample).
        tile_size: crop size the network was trained on; prediction tiles default to it.
        extra: anything else worth keeping (seed, data, ...).
    """

    model_config: dict[str, Any]
    role: str = "teacher"
    method: str | None = None
    degradation: str | None = None
    degraded_date: str = "t2"
    tile_size: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def bands(self) -> int:
        """Input bands per date."""
        return int(self.model_config.get("in_channels", 3))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def model_state_dict(checkpoint: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The predictive network's weights, without the ``model.`` prefix."""
    state = checkpoint.get("state_dict", {})
    return {
        key[len(MODEL_PREFIX) :]: value
        for key, value in state.items()
        if key.startswith(MODEL_PREFIX)
    }


def save_model_checkpoint(
    path: str | Path, model: ChangeDetectionModel, info: CheckpointInfo
) -> Path:
    """Write a minimal checkpoint (metadata and the network's weights) atomically."""
    checkpoint = {
        METADATA_KEY: info.to_dict(),
        "state_dict": {
            MODEL_PREFIX + key: value.detach().cpu() for key, value in model.state_dict().items()
        },
    }
    with atomic_path(path) as tmp:
        torch.save(checkpoint, tmp)
    return Path(path)


def read_checkpoint(path: str | Path) -> tuple[dict[str, Any], CheckpointInfo]:
    """Load an hicd checkpoint dict and its metadata on CPU, without running code from the file.

    Raises:
        DataError: one line naming ``path`` and what it is instead (missing, unreadable, an
            image, a pickle that needs code to load, a plain state_dict, a foreign Lightning
            checkpoint) and how to make an hicd checkpoint.
    """
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path} is a folder, not a checkpoint file")
    if not path.is_file():
        raise DataError(f"{path}: checkpoint not found")
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
    except OSError as error:
        raise DataError(f"{path}: unreadable checkpoint ({_first_line(error)})") from error
    for signature, kind in IMAGE_SIGNATURES.items():
        if head.startswith(signature):
            raise DataError(
                f"{path} is {kind}, not a checkpoint (did you swap --checkpoint and --t1?)"
            )
    if head.lstrip()[:1] in (b"{", b"[") or head.startswith(b"#") or head.startswith(b"---"):
        raise DataError(
            f"{path} is a text file (JSON/YAML), not a checkpoint; give the .ckpt written by "
            "hicd fit or save_model_checkpoint"
        )
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if not str(error).startswith("Weights only load failed"):
            raise DataError(f"{path}: unreadable checkpoint ({_first_line(error)})") from error
        names = _refused_globals(error, path)
        if not names and not zipfile.is_zipfile(path):
            raise DataError(
                f"{path} is not a PyTorch checkpoint (unreadable: {_first_line(error)}); give "
                "the .ckpt written by hicd fit or save_model_checkpoint"
            ) from None
        what = f" ({', '.join(names)})" if names else ""
        raise DataError(
            f"{path}: refused: the file needs code execution to load{what}; hicd loads "
            f"checkpoints without running code; re-save the weights as an hicd checkpoint: {RECIPE}"
        ) from None
    except Exception as error:
        raise DataError(f"{path}: unreadable checkpoint ({_first_line(error)})") from error
    return checkpoint, read_checkpoint_info(checkpoint, path)


def _first_line(error: Exception) -> str:
    """The first sentence of ``error``, after its type (torch's texts run to a paragraph)."""
    text = str(error).strip().split("\n", 1)[0].split(". ", 1)[0][:200]
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _refused_globals(error: Exception, path: Path) -> list[str]:
    """The classes or functions a refused pickle needs: from torch's message, else read from the
    pickle's opcodes (parsed, never executed)."""
    named = re.findall(r"GLOBAL ([\w.]+)", str(error))
    if named:
        return list(dict.fromkeys(named))
    names: list[str] = []
    strings: list[str] = []
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                data = archive.read(next(n for n in archive.namelist() if n.endswith("data.pkl")))
        else:
            data = path.read_bytes()
        for opcode, arg, _ in pickletools.genops(data):
            if opcode.name in ("GLOBAL", "INST"):
                names.append(str(arg).replace(" ", "."))
            elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                names.append(".".join(strings[-2:]))
            elif isinstance(arg, str):
                strings.append(arg)
    except Exception:  # a damaged pickle: report what was found before the damage
        pass
    return [n for n in dict.fromkeys(names) if not n.startswith(("torch.", "collections."))]


def read_checkpoint_info(checkpoint: Any, path: str | Path) -> CheckpointInfo:
    """Parse the metadata of a loaded checkpoint dict.

    Raises:
        DataError: when ``checkpoint`` has no hicd metadata, saying what it holds instead.
    """
    metadata = checkpoint.get(METADATA_KEY) if isinstance(checkpoint, dict) else None
    if isinstance(metadata, dict) and "model_config" in metadata:
        try:
            return CheckpointInfo(**metadata)
        except TypeError as error:
            raise DataError(f"{path}: damaged hicd metadata ({error})") from error
    if not isinstance(checkpoint, dict):
        what = f"holds a {type(checkpoint).__name__}"
    elif checkpoint and all(isinstance(value, torch.Tensor) for value in checkpoint.values()):
        what = "is a plain state_dict (weights only)"
    elif "pytorch-lightning_version" in checkpoint:
        what = "is a Lightning checkpoint of another project"
    elif "state_dict" in checkpoint:
        what = "is a dict holding a state_dict"
    else:
        what = f"is a dict with keys {', '.join(map(str, list(checkpoint)[:5]))}"
    raise DataError(
        f"{path}: not an hicd checkpoint: it {what}, without the '{METADATA_KEY}' metadata; "
        f"to make one, {RECIPE}"
    )


def load_model(
    path: str | Path,
    device: str | torch.device = "cpu",
    factory: Callable[..., nn.Module] | None = None,
) -> tuple[ChangeDetectionModel, CheckpointInfo]:
    """Rebuild the network of a checkpoint, load its weights strictly, and put it in eval mode.

    ``factory(**model_config)`` builds the network (default: ``create_model`` without a
    pretrained backbone, since the weights come from the checkpoint). The file is read by
    :func:`read_checkpoint`, without running code from it.
    """
    path = Path(path)
    checkpoint, info = read_checkpoint(path)
    build = factory or (lambda **config: create_model(**{**config, "pretrained": None}))
    model = build(**info.model_config)
    state = model_state_dict(checkpoint)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise DataError(f"{path}: weights do not fit the stored architecture ({error})") from error
    return model.to(device).eval(), info


def model_config_of(model: nn.Module) -> dict[str, Any]:
    """The model's ``config`` attribute (dataclass or mapping) as a dict, or ``{}``."""
    config = getattr(model, "config", None)
    if is_dataclass(config) and not isinstance(config, type):
        return asdict(config)
    return dict(config) if isinstance(config, Mapping) else {}


def save_student(
    path: str | Path,
    student: nn.Module,
    model_config: Mapping[str, Any],
    method: str | None = None,
) -> Path:
    """Write ``student``'s weights and ``model_config`` atomically, as a ``role="student"``
    checkpoint."""
    info = CheckpointInfo(model_config=dict(model_config), role="student", method=method)
    return save_model_checkpoint(path, student, info)


def load_student(
    path: str | Path,
    factory: Callable[..., nn.Module] | None = None,
    map_location: str | torch.device = "cpu",
) -> nn.Module:
    """Rebuild a plain student model (in eval mode) from a :func:`save_student` checkpoint.

    ``factory(**model_config)`` builds it; default ``hicd.models.create_model`` with
    ``pretrained=None``.
    """
    return load_model(path, map_location, factory)[0]
