"""The Distiller on the real hicd.models networks (random init, tiny inputs)."""

from __future__ import annotations

import copy

import pytest
import torch

from hicd.distillation import DistillationConfig, Distiller, load_student

models = pytest.importorskip("hicd.models")


@pytest.mark.parametrize("name", ["siam_fpn", "bit"])
def test_hicd_on_real_models(name, tmp_path):
    torch.manual_seed(0)
    teacher = models.create_model(name)
    distiller = Distiller(copy.deepcopy(teacher), teacher, DistillationConfig(method="hicd"))
    x1, x2 = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64)
    distiller.train()  # the teacher normalises with its batch's statistics, as the student
    same = distiller(x1, x2, x1, x2)
    assert all(v.abs().item() < 1e-6 for v in same.terms.values())
    out = distiller(x1, x2, (x1 + 0.1).clamp(0, 1), x2)
    out.loss.backward()
    assert out.terms["sfd"] > 0 and torch.isfinite(out.loss)
    path = distiller.save_student(tmp_path / "student.pt")
    loaded = load_student(path)  # default factory: hicd.models.create_model
    distiller.student.eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(x1, x2).logits, distiller.student(x1, x2).logits)
