"""Distiller on unlabelled pairs (mask None): the distillation terms alone, no task loss."""

from __future__ import annotations

import pytest
import torch

from hicd.distillation import METHOD_NAMES, DistillationConfig, Distiller
from hicd.errors import ConfigError

DISTILLING = [m for m in METHOD_NAMES if m != "none"]


def _distiller(tiny_model, method: str) -> Distiller:
    torch.manual_seed(0)
    return Distiller(tiny_model(width=4), tiny_model(width=6), DistillationConfig(method=method))


def _run(distiller: Distiller, batch: dict, mask, scale: float = 1.0):
    return distiller(
        batch["clean_t1"],
        batch["clean_t2"],
        batch["degraded_t1"],
        batch["degraded_t2"],
        mask,
        scale=scale,
    )


class _Spy:
    """Stands in for the task loss and counts its calls."""

    def __init__(self, loss) -> None:
        self.loss, self.calls = loss, 0

    def __call__(self, logits, mask):
        self.calls += 1
        return self.loss(logits, mask)


@pytest.mark.parametrize("method", DISTILLING)
def test_no_mask_gives_the_distillation_terms_alone(tiny_model, batch, method):
    distiller = _distiller(tiny_model, method).train()
    spy = distiller.loss = _Spy(distiller.loss)
    out = _run(distiller, batch, None, scale=0.5)
    assert spy.calls == 0  # the task loss is not computed
    assert "cd" not in out.terms and "dice" not in out.terms
    modules = [name for name in out.terms if "/" not in name]
    assert modules  # sfd/cfd, feature or logit
    total = sum(out.terms[name] for name in modules)
    torch.testing.assert_close(out.loss, 0.5 * total)

    # The same batch with labels: L_CD is there, and the distillation part is unchanged.
    torch.manual_seed(0)
    labelled = _run(_distiller(tiny_model, method).train(), batch, batch["mask"], scale=0.5)
    assert "cd" in labelled.terms
    torch.testing.assert_close(labelled.loss, labelled.terms["cd"] + 0.5 * total)


def test_no_mask_gradients_come_from_the_distillation_terms(tiny_model, batch):
    distiller = _distiller(tiny_model, "hicd").train()
    out = _run(distiller, batch, None)
    out.loss.backward()
    grads = [p.grad for p in distiller.student.parameters() if p.grad is not None]
    assert any(g.abs().sum() > 0 for g in grads)  # the encoder and fusion learn

    # The student's head feeds only the logits, which only L_CD reads in hicd: no gradient.
    head = distiller.student.head
    assert all(p.grad is None or torch.all(p.grad == 0) for p in head.parameters())
    distiller.student.zero_grad()
    _run(distiller, batch, batch["mask"]).loss.backward()
    assert any(p.grad.abs().sum() > 0 for p in head.parameters())


def test_method_none_refuses_unlabelled_pairs(tiny_model, batch):
    distiller = Distiller(tiny_model(width=4), None, DistillationConfig(method="none"))
    with pytest.raises(ConfigError, match="'none' has no label-free term"):
        _run(distiller, batch, None)
