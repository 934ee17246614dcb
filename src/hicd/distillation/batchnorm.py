"""How BatchNorm layers normalise during distillation: the frozen teacher's, and the student's
on unlabelled batches.

A student trains in train mode (each BatchNorm uses its batch's statistics) while a frozen
teacher runs in eval mode (its stored running statistics). Where the two differ, correlations
of teacher and student features differ even for identical weights and inputs, and the student
is pulled towards that artefact. Two remedies: normalise the teacher with its own batch's
statistics (:func:`batch_statistics`), or re-estimate its running statistics on the clean
training crops before stage 2 (:func:`recalibrate_batchnorm`). The student's forward pass on
unlabelled batches runs in :func:`batch_statistics` too, so imagery from another domain never
enters the running statistics that inference uses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from hicd.errors import ConfigError


def _batchnorms(model: nn.Module) -> list[_BatchNorm]:
    return [m for m in model.modules() if isinstance(m, _BatchNorm)]


@contextmanager
def batch_statistics(model: nn.Module) -> Iterator[nn.Module]:
    """Within the block every BatchNorm of ``model`` normalises with the statistics of the batch
    it sees, and leaves its running statistics (and ``num_batches_tracked``) untouched; every
    other layer keeps its mode."""
    saved = [(m, m.training, m.track_running_stats) for m in _batchnorms(model)]
    try:
        for m, _, _ in saved:
            m.train(True)
            m.track_running_stats = False  # training without tracking: batch stats, no update
        yield model
    finally:
        for m, training, tracking in saved:
            m.train(training)
            m.track_running_stats = tracking


@torch.no_grad()
def recalibrate_batchnorm(
    model: nn.Module, batches: Iterable[tuple[Tensor, Tensor]], forward: Callable | None = None
) -> int:
    """Replace the running statistics of ``model``'s BatchNorms by their plain average over
    ``batches`` of (t1, t2) image pairs (as ``torch.optim.swa_utils.update_bn`` does for
    single-input models). Other layers stay in their mode; returns the number of batches used.
    """
    norms = _batchnorms(model)
    saved = [(m, m.training, m.momentum) for m in norms]
    buffers = [{k: v.clone() for k, v in m.state_dict().items()} for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average: every batch weighs the same
        m.train(True)
    count = 0
    try:
        for t1, t2 in batches:
            (forward or model)(t1, t2)
            count += 1
    finally:
        for m, training, momentum in saved:
            m.train(training)
            m.momentum = momentum
    if count == 0:
        for m, state in zip(norms, buffers, strict=True):
            m.load_state_dict(state)
        raise ConfigError("recalibrate_batchnorm: no batch to estimate the statistics from")
    return count
