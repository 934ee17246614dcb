"""The Distiller needs no labels: the same call serves unlabelled pairs (label-free
distillation), and the task loss is the trainer's, added only where there are labels."""

from __future__ import annotations

import torch

from hicd.distillation import DistillationConfig, Distiller
from hicd.distillation.config import METHOD_NAMES
from hicd.models.losses import TaskLossConfig

DISTILLING = [m for m in METHOD_NAMES if m != "none"]


def _distiller(tiny_model, method: str) -> Distiller:
    torch.manual_seed(0)
    return Distiller(tiny_model(width=4), tiny_model(width=6), DistillationConfig(method=method))


def _run(distiller: Distiller, batch: dict, scale: float = 1.0):
    return distiller(
        batch["clean_t1"],
        batch["clean_t2"],
        batch["degraded_t1"],
        batch["degraded_t2"],
        scale=scale,
    )


def test_the_distiller_gives_the_distillation_terms_alone(tiny_model, batch):
    for method in DISTILLING:
        distiller = _distiller(tiny_model, method).train()
        out = _run(distiller, batch, scale=0.5)
        assert "cd" not in out.terms and "dice" not in out.terms  # no labels read
        modules = [name for name in out.terms if "/" not in name]
        assert modules  # sfd/cfd, feature or logit
        total = sum(out.terms[name] for name in modules)
        torch.testing.assert_close(out.loss, 0.5 * total)

        # With labels the trainer adds L_CD; the distillation part is the same.
        torch.manual_seed(0)
        again = _run(_distiller(tiny_model, method).train(), batch, scale=0.5)
        cd = TaskLossConfig()(again.student.logits, batch["mask"])["cd"]
        torch.testing.assert_close(cd + again.loss, cd + 0.5 * total)


def test_no_mask_gradients_come_from_the_distillation_terms(tiny_model, batch):
    distiller = _distiller(tiny_model, "hicd").train()
    out = _run(distiller, batch)
    out.loss.backward()
    grads = [p.grad for p in distiller.student.parameters() if p.grad is not None]
    assert any(g.abs().sum() > 0 for g in grads)  # the encoder and fusion learn

    # The student's head feeds only the logits, which only L_CD reads in hicd: no gradient.
    head = distiller.student.head
    assert all(p.grad is None or torch.all(p.grad == 0) for p in head.parameters())
    distiller.student.zero_grad()
    out = _run(distiller, batch)
    (TaskLossConfig()(out.student.logits, batch["mask"])["cd"] + out.loss).backward()
    assert any(p.grad.abs().sum() > 0 for p in head.parameters())


def test_method_none_has_no_label_free_term(tiny_model, batch):
    """Nothing to learn from an unlabelled pair (``StudentModule.check_unlabelled`` refuses
    such training: tests/training/test_unlabelled.py)."""
    distiller = Distiller(tiny_model(width=4), None, DistillationConfig(method="none"))
    out = _run(distiller, batch)
    assert out.terms == {} and float(out.loss) == 0.0 and not out.loss.requires_grad
