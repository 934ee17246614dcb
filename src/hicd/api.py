"""The Python API of prediction: ``hicd.ChangeDetector``.

>>> detector = ChangeDetector.from_checkpoint("student.ckpt")
>>> probability = detector.predict(t1_array, t2_array)           # H×W float32 in [0, 1]
>>> detector.predict_files("a.tif", "b.tif", "change.tif")       # what ``hicd predict`` does
>>> detector.predict_folders("A/", "B/", "out/", resume=True)    # every pair not yet written

``predict_folders_distributed`` spreads the pairs of two folders over processes, GPUs and nodes
(Lightning Fabric's launcher), what ``hicd predict --devices N --num-nodes M`` does.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from hicd.atomic import require_folder
from hicd.data.io import (
    ValueScale,
    check_shared_scale,
    date_scales,
    image_to_tensor,
    pixel_dtype,
    tensor_scale,
)
from hicd.data.layouts import layout_pairs
from hicd.data.pairing import PairFiles, pair_folders
from hicd.defaults import LAYOUT
from hicd.errors import ConfigError, DataError, HicdError, check_choice
from hicd.inference.device import resolve_device
from hicd.inference.engine import DEFAULT_ENGINE, OnnxNetwork, build_engine, check_engine
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

__all__ = [
    "ChangeDetector",
    "DistributedError",
    "DistributedReport",
    "FolderJob",
    "FolderPlan",
    "PairInspection",
    "PredictOptions",
    "PredictionResult",
    "inspect_pair",
    "plan_dataset",
    "plan_folders",
    "predict_folders_distributed",
]

ArrayOrTensor = np.ndarray | Tensor
OPTION = "value_scale"  # the argument named in pixel-value errors of in-memory inputs
STRATEGIES = ("auto", "ddp")
"""Accepted ``strategy`` / ``--strategy`` of ``predict_folders_distributed``."""
ResultCallback = Callable[[PredictionResult], object]
LAUNCHER_ENV = "HICD_LAUNCHER_PID"
"""Set by a launching process for the processes it starts (they stop when it has stopped)."""
WAIT_FOREVER = timedelta(days=10000)
"""Timeout of the collectives of a distributed prediction: a process waits for the others to
finish their share, however long it takes."""


@dataclass(frozen=True)
class FolderJob:
    """One pair of two folders to predict: its files and the options it is predicted with."""

    name: str
    t1: Path
    t2: Path
    out: Path
    options: PredictOptions

    def outputs(self) -> list[Path]:
        """The files this job writes: the map, and its quick-look and polygons if asked for."""
        quicklook = resolve_quicklook(self.out, self.options.quicklook)
        vector = Path(self.options.vector) if self.options.vector else None
        return [p for p in (self.out, quicklook, vector) if p is not None]


@dataclass(frozen=True)
class FolderPlan:
    """The pairs of two folders to predict, their outputs checked (``plan_folders``).

    Attributes:
        jobs: the pairs to predict, in name order.
        skipped: names of the pairs left out by ``resume`` (all their outputs present).
    """

    jobs: tuple[FolderJob, ...]
    skipped: tuple[str, ...] = ()

    def share(self, rank: int, world_size: int) -> tuple[FolderJob, ...]:
        """The jobs of process ``rank`` of ``world_size``: ``jobs[rank::world_size]``."""
        return self.jobs[rank::world_size]


def plan_folders(
    t1_dir: str | Path,
    t2_dir: str | Path,
    out_dir: str | Path,
    options: PredictOptions | None = None,
    *,
    vector_dir: str | Path | None = None,
    resume: bool = False,
    **keywords: Any,
) -> FolderPlan:
    """Pair two folders by file name and check every output before any is written.

    Each pair writes ``out_dir/NAME.tif``, ``out_dir/NAME.png`` (unless ``quicklook`` is False)
    and ``vector_dir/NAME.geojson`` if given. A file without its partner is a DataError, an
    existing output a ConfigError unless ``overwrite``. With ``resume``, a pair whose outputs
    are all present is skipped (outputs are written atomically, so a present file is whole);
    one with only some of them is a ConfigError unless ``overwrite``, which predicts it again.
    """
    options = PredictOptions.build(options, **keywords)
    _check_folder_options(options)
    pairs = pair_folders(Path(t1_dir), Path(t2_dir), None)
    return plan_pairs(pairs, out_dir, options, vector_dir=vector_dir, resume=resume)


def plan_dataset(
    data: str | Path,
    out_dir: str | Path,
    options: PredictOptions | None = None,
    *,
    layout: str = LAYOUT,
    split: str | None = None,
    vector_dir: str | Path | None = None,
    resume: bool = False,
    **keywords: Any,
) -> FolderPlan:
    """``plan_folders`` for the pairs of a dataset folder in ``layout`` (``split``: only that
    split; see ``hicd.data.LAYOUTS``), labels ignored; outputs are named by the pairs' names."""
    options = PredictOptions.build(options, **keywords)
    _check_folder_options(options)
    pairs = layout_pairs(data, layout, split, labels=False)
    return plan_pairs(pairs, out_dir, options, vector_dir=vector_dir, resume=resume)


def _check_folder_options(options: PredictOptions) -> None:
    if not isinstance(options.quicklook, bool | None) or options.vector:
        raise ConfigError(
            "quicklook names one file and vector one GeoJSON: in folder mode quick-looks go "
            "to the output folder and polygons to vector_dir (--vector)"
        )


def plan_pairs(
    pairs: Sequence[PairFiles],
    out_dir: str | Path,
    options: PredictOptions,
    *,
    vector_dir: str | Path | None = None,
    resume: bool = False,
) -> FolderPlan:
    """The plan of ``plan_folders`` for given pairs (``out_dir/NAME.tif`` per pair)."""
    out_dir = Path(out_dir)
    require_folder(out_dir)
    jobs, skipped = [], []
    for pair in pairs:
        out = out_dir / f"{pair.name}.tif"
        vector = Path(vector_dir) / f"{pair.name}.geojson" if vector_dir else None
        quicklook = resolve_quicklook(out, options.quicklook)
        extra = [p for p in (quicklook, vector) if p]
        # with resume, existing outputs are judged below; the paths are checked all the same
        check_output_paths(pair.t1, pair.t2, out, quicklook, vector, options.overwrite or resume)
        if resume and _outputs_complete([out, *extra], options.overwrite):
            skipped.append(pair.name)
            continue
        jobs.append(FolderJob(pair.name, pair.t1, pair.t2, out, replace(options, vector=vector)))
    return FolderPlan(tuple(jobs), tuple(skipped))


def _outputs_complete(outputs: list[Path], overwrite: bool) -> bool:
    """Whether every output is present; some but not all is a ConfigError unless ``overwrite``."""
    present = [path for path in outputs if path.exists() or path.is_symlink()]
    if all(path.is_file() for path in outputs):
        return True
    if present and not overwrite:
        missing = next(path for path in outputs if not path.is_file())
        raise ConfigError(
            f"{present[0]}: output exists but {missing} does not (an unfinished pair); give "
            "--overwrite to predict the pair again"
        )
    return False


class ChangeDetector:
    """A change-detection network ready to predict, with what its checkpoint says about it.

    Args:
        model: a change-detection network taking [0, 1] inputs (it is put in eval mode).
        info: the checkpoint's metadata (band count, training tile size).
        device: ``"auto"`` (a GPU if there is one), ``"cpu"``, ``"cuda:1"``, ...
    """

    def __init__(
        self,
        model: nn.Module,
        info: CheckpointInfo,
        device: str | torch.device = "auto",
        sources: Sequence[str | Path] = (),
    ) -> None:
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.info = info
        self.sources = tuple(Path(path) for path in sources)
        """Files the detector was loaded from (checkpoint, cached graph): no output may be one."""

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
        network = build_engine(path, model, info, engine, resolved)
        sources = [path, *([network.path] if isinstance(network, OnnxNetwork) else [])]
        return cls(network, info, resolved, sources)

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
            tile, overlap, batch_size: as the fields of :class:`PredictOptions` (defaults:
                ``hicd.defaults``).
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
        check_shared_scale(value_scale, (pixel_dtype(t1), pixel_dtype(t2)), "value_scale")
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
        scale = tensor_scale(image, name, value_scale, OPTION)
        return (image.to(torch.float32) / scale).clamp_(0.0, 1.0)

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
                (every field, e.g. ``threshold=0.4``, ``overwrite=True``; its docstring lists
                them with their defaults).
        """
        options = PredictOptions.build(options, **keywords)
        return predict_scene(self.model, self.info, t1, t2, out, options, self.sources)

    def predict_folders(
        self,
        t1_dir: str | Path,
        t2_dir: str | Path,
        out_dir: str | Path,
        options: PredictOptions | None = None,
        *,
        vector_dir: str | Path | None = None,
        resume: bool = False,
        **keywords: Any,
    ) -> list[PredictionResult]:
        """``predict_files`` for every pair of two folders, paired by file name (stem).

        Writes ``out_dir/NAME.tif`` and ``out_dir/NAME.png`` (unless ``quicklook`` is False),
        and ``vector_dir/NAME.geojson`` if given; a file without its partner in the other
        folder is an error raised before any prediction, and so is any existing output unless
        ``overwrite``. ``resume`` skips the pairs whose outputs are all present (see
        :func:`plan_folders`). ``options`` and ``keywords`` as for ``predict_files``
        (``quicklook`` True or False, ``vector`` not given: see ``vector_dir``).
        """
        plan = plan_folders(
            t1_dir, t2_dir, out_dir, options, vector_dir=vector_dir, resume=resume, **keywords
        )
        return self.predict_jobs(plan.jobs)

    def predict_jobs(
        self, jobs: Sequence[FolderJob], on_result: ResultCallback | None = None
    ) -> list[PredictionResult]:
        """Predict the jobs of a :class:`FolderPlan`, one after the other; ``on_result`` is
        called with each result as it is written."""
        results = []
        for job in jobs:
            result = self.predict_files(job.t1, job.t2, job.out, job.options)
            results.append(result)
            if on_result is not None:
                on_result(result)
        return results


class DistributedError(HicdError):
    """An error of a distributed prediction, raised on every process once all of them know it.

    Attributes:
        rank: the global rank of the process raising it.
        origin: the global rank of the process where it happened (None: unknown, another
            process stopped or crashed before it could tell).
    """

    def __init__(self, message: str, rank: int, origin: int | None) -> None:
        super().__init__(message)
        self.rank = rank
        self.origin = origin

    @property
    def relayed(self) -> bool:
        """Whether it is another process's error, raised here on a rank other than 0: rank 0
        raises it too, so only rank 0 need print it."""
        return self.rank != 0 and self.origin not in (None, self.rank)


@dataclass(frozen=True)
class DistributedReport:
    """What one process of ``predict_folders_distributed`` did, and all of them together.

    Attributes:
        rank, world_size: this process's global rank and the number of processes.
        results: the pairs this process predicted.
        predicted: the pairs predicted by all processes.
        skipped: the pairs skipped by ``resume`` (outputs complete).
        seconds: wall time of this process, from the launch to the end.
    """

    rank: int
    world_size: int
    results: list[PredictionResult]
    predicted: int
    skipped: int
    seconds: float


def predict_folders_distributed(
    checkpoint: str | Path,
    t1_dir: str | Path | None,
    t2_dir: str | Path | None,
    out_dir: str | Path,
    options: PredictOptions | None = None,
    *,
    data: str | Path | None = None,
    layout: str = LAYOUT,
    split: str | None = None,
    vector_dir: str | Path | None = None,
    resume: bool = False,
    engine: str = DEFAULT_ENGINE,
    device: str = "auto",
    devices: int = 1,
    num_nodes: int = 1,
    strategy: str = "auto",
    threads: int | None = None,
    on_plan: Callable[[FolderPlan], object] | None = None,
    on_result: ResultCallback | None = None,
    **keywords: Any,
) -> DistributedReport:
    """``predict_folders`` spread over ``devices`` processes on each of ``num_nodes`` nodes.

    Lightning Fabric launches the processes (``Fabric.launch``: on one node it runs this
    program again for local ranks 1..devices-1; under SLURM or torchrun it joins the processes
    they started). Every process pairs the folders and checks every output (``plan_folders``),
    and none writes before all have done so: an error there stops them all. Process ``rank``
    then loads ``checkpoint`` on its device (``cuda:LOCAL_RANK`` on GPUs; on the CPU with
    ``threads`` / ``devices`` threads, at least 1; ``threads`` default: torch's) and predicts
    ``plan.share(rank, world_size)``, calling ``on_result`` for each pair it wrote. An error
    on one process lets the others finish their share, then is raised on every process (a
    :class:`DistributedError` where it did not happen). ``on_plan`` is called on rank 0 with
    the checked plan.

    Args:
        device: the accelerator: ``"auto"`` (CUDA if available, else the CPU), ``"cpu"`` or
            ``"cuda"`` (no device index: process i of a node uses GPU i).
        strategy: ``"auto"`` (``"ddp"`` for several processes) or ``"ddp"``.
        checkpoint, engine: as for ``ChangeDetector.from_checkpoint``.
        t1_dir, t2_dir, out_dir, options, vector_dir, resume, keywords: as for
            ``ChangeDetector.predict_folders``.
        data, layout, split: the pairs of a dataset folder instead of two folders (give None
            for ``t1_dir`` and ``t2_dir``), as :func:`plan_dataset`.

    Returns:
        this process's :class:`DistributedReport` (all processes return, not only rank 0).
    """
    options = PredictOptions.build(options, **keywords)
    check_engine(engine)
    for name, value in (("--devices", devices), ("--num-nodes", num_nodes)):
        if value < 1:
            raise ConfigError(f"{name} must be at least 1, got {value}")
    check_choice(strategy, STRATEGIES, "--strategy")
    accelerator = _accelerator(device)
    per_process_threads = max(1, (threads or torch.get_num_threads()) // devices)
    if strategy == "auto" and devices * num_nodes > 1:
        strategy = "ddp"  # not ddp_fork (interactive) nor a spawn: each process runs this call
    from lightning.fabric import Fabric
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    settings = f"--devices {devices} --num-nodes {num_nodes}"
    try:
        fabric = Fabric(
            accelerator=accelerator, devices=devices, num_nodes=num_nodes, strategy=strategy
        )
    except (MisconfigurationException, ValueError) as error:
        raise ConfigError(f"{settings}: {error}") from None
    if (data is None) == (t1_dir is None or t2_dir is None):
        raise ConfigError("give two folders (t1_dir and t2_dir) or a dataset folder (data)")
    plan_arguments = (t1_dir, t2_dir, out_dir, options, vector_dir, resume, (data, layout, split))
    environment = getattr(fabric.strategy, "cluster_environment", None)
    launching = environment is not None and not environment.creates_processes_externally
    if launching:
        _plan(*plan_arguments)  # the launcher fails fast, before it starts any process
        os.environ[LAUNCHER_ENV] = str(os.getpid())  # inherited by the processes it starts
    try:
        return fabric.launch(
            _predict_share,
            checkpoint=checkpoint,
            plan_arguments=plan_arguments,
            engine=engine,
            threads=per_process_threads,
            on_plan=on_plan,
            on_result=on_result,
        )
    except MisconfigurationException as error:  # e.g. --devices against SLURM's tasks per node
        raise ConfigError(f"{settings}: {error}") from None
    finally:
        if launching:
            os.environ.pop(LAUNCHER_ENV, None)


def _accelerator(device: str) -> str:
    """Fabric's accelerator for a ``--device``: ``"cpu"`` or ``"cuda"`` (no index)."""
    resolved = resolve_device(device)
    if resolved.index is not None or resolved.type not in ("cpu", "cuda"):
        raise ConfigError(
            f"--device {device}: with --devices or --num-nodes give cpu, cuda or auto "
            "(process i of a node uses GPU i)"
        )
    return resolved.type


def _plan(
    t1_dir: str | Path | None,
    t2_dir: str | Path | None,
    out_dir: str | Path,
    options: PredictOptions,
    vector_dir: str | Path | None,
    resume: bool,
    dataset: tuple[str | Path | None, str, str | None],
) -> FolderPlan:
    data, layout, split = dataset
    if data is not None:
        return plan_dataset(
            data, out_dir, options, layout=layout, split=split, vector_dir=vector_dir, resume=resume
        )
    return plan_folders(t1_dir, t2_dir, out_dir, options, vector_dir=vector_dir, resume=resume)


def _predict_share(
    fabric: Any,
    checkpoint: str | Path,
    plan_arguments: tuple,
    engine: str,
    threads: int,
    on_plan: Callable[[FolderPlan], object] | None,
    on_result: ResultCallback | None,
) -> DistributedReport:
    """What each process of ``predict_folders_distributed`` runs, once launched."""
    import torch.distributed as dist

    started = time.perf_counter()
    rank, world_size = fabric.global_rank, fabric.world_size
    t1_dir, t2_dir, out_dir, options, vector_dir, resume, dataset = plan_arguments
    options = replace(options, progress=options.progress and rank == 0)  # one bar, rank 0's
    # processes wait for each other on a gloo group without timeout: shares differ in length
    group = dist.new_group(backend="gloo", timeout=WAIT_FOREVER) if world_size > 1 else None
    try:
        plan, error = None, None
        try:
            plan = _plan(t1_dir, t2_dir, out_dir, options, vector_dir, resume, dataset)
        except Exception as caught:
            error = caught
        _agree(group, rank, error)  # every process has checked every output; none has written
        if rank == 0 and on_plan is not None:
            on_plan(plan)
        torch.set_num_threads(threads)
        detector = None
        for first in (True, False):  # local rank 0 first: it exports the ONNX graph once
            error = None
            if (fabric.local_rank == 0) == first and plan.jobs:
                try:
                    detector = ChangeDetector.from_checkpoint(checkpoint, fabric.device, engine)
                except Exception as caught:
                    error = caught
            _agree(group, rank, error)
        results: list[PredictionResult] = []
        error = None
        launcher = _launcher_pid(fabric.local_rank)
        try:
            for job in plan.share(rank, world_size):
                if launcher is not None and os.getppid() != launcher:
                    raise DistributedError(
                        f"process {rank} of {world_size}: the process that started it (local "
                        "rank 0) has stopped; --resume finishes the pairs not written",
                        rank,
                        None,
                    )
                result = detector.predict_files(job.t1, job.t2, job.out, job.options)
                results.append(result)
                if on_result is not None:
                    on_result(result)
        except Exception as caught:  # the other processes finish their share, then all stop
            error = caught
        counts = _agree(group, rank, error, len(results))
    finally:
        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
    return DistributedReport(
        rank=rank,
        world_size=world_size,
        results=results,
        predicted=sum(counts),
        skipped=len(plan.skipped),
        seconds=time.perf_counter() - started,
    )


def _launcher_pid(local_rank: int) -> int | None:
    """The process that started this one (Lightning's launcher, local rank 0), if it did: a
    process whose launcher has stopped (SIGTERM to it alone) stops before its next pair."""
    text = os.environ.get(LAUNCHER_ENV)
    if local_rank == 0 or not text or not text.isdigit():
        return None
    return int(text)


def _agree(group: Any, rank: int, error: BaseException | None, value: object = None) -> list:
    """Gather ``value`` and any error from every process (a barrier), and raise on every
    process if any failed: rank 0 its own error (unchanged) or the first other's, the other
    ranks a DistributedError (their own hicd error's message, or the first other's); an error
    that is not hicd's is raised unchanged where it happened."""
    import torch.distributed as dist

    mine = (None if error is None else _describe(error), value)
    gathered: list = [mine]
    if group is not None:
        gathered = [None] * dist.get_world_size(group)
        try:
            dist.all_gather_object(gathered, mine, group=group)
        except RuntimeError:  # a process is gone: no collective can complete
            if error is not None:
                raise error from None
            raise DistributedError(
                f"process {rank} of {len(gathered)}: another process stopped or crashed; "
                "--resume finishes the pairs not written",
                rank,
                None,
            ) from None
    failures = [(origin, text) for origin, (text, _) in enumerate(gathered) if text is not None]
    if error is not None and (rank == 0 or not isinstance(error, HicdError)):
        raise error
    if error is not None:
        raise DistributedError(str(error), rank, rank) from error
    if failures:
        origin, text = failures[0]
        raise DistributedError(f"process {origin} of {len(gathered)}: {text}", rank, origin)
    return [value for _, value in gathered]


def _describe(error: BaseException) -> str:
    """One line for an error of another process: hicd's message, or the type and message."""
    if isinstance(error, HicdError):
        return str(error)
    return f"{type(error).__name__}: {error}"
