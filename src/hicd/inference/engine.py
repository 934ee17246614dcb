"""Which runtime executes a checkpoint's network: PyTorch eager or ONNX Runtime.

``engine="onnx"`` exports the network once (dynamic batch, height and width, the graph of
:func:`hicd.inference.export.write_onnx`) into a cache folder keyed by the checkpoint file's
SHA-256, a hash of the export code, the graph's options and the hicd and torch versions, so a
cached graph is never stale (one ONNX Runtime cannot load is exported again), and runs it
in an ``onnxruntime.InferenceSession`` wrapped as an :class:`OnnxNetwork`. It is a parameterless
``nn.Module`` whose ``forward(t1, t2)`` returns the logits, so the one tiling engine
(``blend_tiles``, streaming, validation, ``hicd evaluate``) uses it as it uses the network.
``"auto"`` (the default) picks ONNX Runtime on the CPU, and on a GPU ONNX Runtime when its CUDA
provider is installed, PyTorch otherwise; a network that does not export falls back to PyTorch
with one warning line saying why. The session keeps ONNX Runtime's CPU memory arena: with one
window per forward pass on the CPU (``hicd.defaults.BATCH_SIZES``) every pass has the same
input shape, so its buffers are reused (1.5× faster forward passes, peak memory still flat
from 4096² to 8192²: docs/benchmarks.md; with batches of 4, the last batch of a row changed
the shape and the arena kept both). Worker threads do not spin, which would compete with
reading, warping and blending.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from hicd._version import __version__
from hicd.atomic import atomic_path
from hicd.defaults import ENGINE
from hicd.errors import ConfigError, check_choice
from hicd.inference import export as inference_export
from hicd.inference.export import write_onnx
from hicd.models import export as model_export
from hicd.models.checkpoint import CheckpointInfo
from hicd.models.export import INPUT_NAMES, OUTPUT_NAME

ENGINES = ("torch", "onnx", "auto")
"""Accepted values of ``engine`` / ``--engine``."""
DEFAULT_ENGINE = ENGINE
"""The engine used when none is chosen (``hicd.defaults.ENGINE``)."""
OPSET = 18
CACHE_ENV = "HICD_CACHE_DIR"
"""Environment variable naming hicd's cache folder (default ``~/.cache/hicd``)."""


def cache_dir() -> Path:
    """Where exported graphs are cached: ``$HICD_CACHE_DIR/onnx``, default ``~/.cache/hicd/onnx``."""
    root = os.environ.get(CACHE_ENV)
    if not root:
        xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        root = Path(xdg) / "hicd"
    return Path(root).expanduser() / "onnx"


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's content."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while block := handle.read(2**20):
            digest.update(block)
    return digest.hexdigest()


@functools.cache
def export_code_hash() -> str:
    """SHA-256 of the code that writes the graph (hicd's two export modules), so a changed
    exporter never reuses a graph cached by the previous one, whatever the version string."""
    digest = hashlib.sha256()
    for module in (model_export, inference_export):
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()


def cache_key(checkpoint: str | Path, opset: int = OPSET) -> str:
    """Name of the cached graph of ``checkpoint``: changes with its content, the export code,
    the graph's options (opset, exporter) and the hicd and torch versions."""
    parts = (
        file_sha256(checkpoint), export_code_hash(), __version__, torch.__version__,
        f"opset={opset}", "exporter=torchscript",
    )  # fmt: skip
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def cached_onnx(
    checkpoint: str | Path, model: nn.Module, info: CheckpointInfo, opset: int = OPSET
) -> Path:
    """The ONNX graph of ``model`` (loaded from ``checkpoint``), exported on first use.

    The file is written atomically, so concurrent runs never read a partial graph.
    """
    path = cache_dir() / f"{cache_key(checkpoint, opset)}.onnx"
    if not path.is_file():
        with atomic_path(path) as tmp:
            write_onnx(model, info, tmp, opset)
    return path


def cached_session(
    checkpoint: str | Path, model: nn.Module, info: CheckpointInfo, device: torch.device
) -> OnnxNetwork:
    """An :class:`OnnxNetwork` of the cached graph; a cached graph ONNX Runtime cannot load
    (truncated, corrupted) is exported again, once."""
    path = cached_onnx(checkpoint, model, info)
    small = None
    if getattr(model, "pad_mode", None) == "reflect":
        small = (int(model.output_stride), model.input_mean.detach().to("cpu", torch.float32))
    try:
        return OnnxNetwork(path, device, small=small)
    except Exception as error:
        warn(f"{path}: cached ONNX graph is unreadable, exporting it again ({_first_line(error)})")
        path.unlink(missing_ok=True)
        return OnnxNetwork(cached_onnx(checkpoint, model, info), device, small=small)


def onnx_serves(device: torch.device) -> bool:
    """Whether ONNX Runtime can run on ``device``: the CPU, or CUDA with its CUDA provider."""
    if device.type == "cpu":
        return True
    import onnxruntime

    return (
        device.type == "cuda" and "CUDAExecutionProvider" in onnxruntime.get_available_providers()
    )


def onnx_providers(device: torch.device) -> list[str]:
    """ONNX Runtime providers for ``device`` (ConfigError: a GPU without the CUDA provider)."""
    if device.type == "cpu":
        return ["CPUExecutionProvider"]
    if onnx_serves(device):
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    raise ConfigError(
        f"--engine onnx on {device}: ONNX Runtime has no provider for it; "
        "use --engine torch or --device cpu"
    )


class OnnxNetwork(nn.Module):
    """An exported network run by ONNX Runtime: ``forward(t1, t2)`` -> B×2×H×W logits.

    Inputs are float32 B×C×H×W in [0, 1]; the logits come back on the device of ``t1``. The
    graph pads by reflection, which needs H, W ≥ the output stride: with ``small`` (the stride
    and the B×C×1×1 band means) smaller images are padded first as PyTorch pads them, so both
    engines accept the same inputs. Threads follow ``torch.get_num_threads()`` unless given.
    ``execution_device`` is the device the session computes on (the module has no parameters
    to tell it), so defaults such as the batch size follow it.
    """

    def __init__(
        self,
        path: str | Path,
        device: torch.device | None = None,
        threads: int | None = None,
        small: tuple[int, Tensor] | None = None,
    ) -> None:
        super().__init__()
        self.small = small
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        options.enable_cpu_mem_arena = True  # one input shape per session: buffers reused
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.path = Path(path)
        self.execution_device = device or torch.device("cpu")
        providers = onnx_providers(self.execution_device)
        self.session = onnxruntime.InferenceSession(str(path), options, providers=providers)

    def forward(self, t1: Tensor, t2: Tensor) -> Tensor:
        height, width = t1.shape[-2:]
        device = t1.device
        if self.small is not None:
            t1, t2 = (self._pad_small(image) for image in (t1, t2))
        feeds = {
            name: np.ascontiguousarray(image.detach().to("cpu", torch.float32).numpy())
            for name, image in zip(INPUT_NAMES, (t1, t2), strict=True)
        }
        (logits,) = self.session.run([OUTPUT_NAME], feeds)
        return torch.from_numpy(logits)[..., :height, :width].to(device)

    def _pad_small(self, image: Tensor) -> Tensor:
        """An image too small for the graph's reflection padding, padded as PyTorch pads it:
        with the band means (zero once normalised) to a multiple of the output stride."""
        stride, mean = self.small
        height, width = image.shape[-2:]
        pad_h, pad_w = -height % stride, -width % stride
        if pad_h < height and pad_w < width:
            return image  # the graph's own reflection works
        padded = mean.to(image.device, image.dtype)
        padded = padded.expand(*image.shape[:2], height + pad_h, width + pad_w)
        padded = padded.clone()
        padded[..., :height, :width] = image
        return padded


def check_engine(engine: str) -> str:
    """``engine`` if it is one of :data:`ENGINES`, else a ConfigError naming ``--engine``."""
    return check_choice(engine, ENGINES, "--engine")


def warn(message: str) -> None:
    """One line on stderr."""
    print(f"hicd: warning: {message}", file=sys.stderr)


def build_engine(
    checkpoint: str | Path,
    model: nn.Module,
    info: CheckpointInfo,
    engine: str = "auto",
    device: torch.device | None = None,
) -> nn.Module:
    """The network that runs ``checkpoint`` under ``engine`` on ``device``: ``model`` itself
    (moved there) or an :class:`OnnxNetwork` of it.

    ``"auto"``: ONNX Runtime where it can run on ``device`` (:func:`onnx_serves`), PyTorch
    elsewhere; when the export or the ONNX Runtime session fails, ``model`` is returned after
    one warning line saying why. ``"onnx"``: the same failure is a ConfigError (an explicit
    request never falls back silently). A corrupt cached graph is exported again either way.
    """
    device = device or torch.device("cpu")
    if check_engine(engine) == "torch" or (engine == "auto" and not onnx_serves(device)):
        return model.to(device)
    onnx_providers(device)  # an explicit request ONNX Runtime cannot serve is an error
    try:
        return cached_session(checkpoint, model.to("cpu"), info, device)
    except Exception as error:
        if engine == "onnx":
            raise ConfigError(
                f"--engine onnx: {checkpoint} cannot run under ONNX Runtime "
                f"({_first_line(error)}); use --engine torch"
            ) from error
        warn(f"{checkpoint}: ONNX export failed, running PyTorch instead ({_first_line(error)})")
        return model.to(device)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"
