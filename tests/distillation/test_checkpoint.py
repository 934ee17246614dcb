"""Student-only checkpoints: atomic save and a round trip back to a plain model."""

from __future__ import annotations

import pytest
import torch

from hicd.distillation import DistillationConfig, Distiller, load_student, save_student
from hicd.errors import DataError


def test_save_load_round_trip(tiny_model, batch, tmp_path):
    torch.manual_seed(0)
    distiller = Distiller(tiny_model(width=4), tiny_model(width=6), DistillationConfig())
    optimiser = torch.optim.SGD(distiller.student_parameters(), lr=0.1)
    images = (batch[key] for key in ("clean_t1", "clean_t2", "degraded_t1", "degraded_t2"))
    distiller(*images).loss.backward()
    optimiser.step()
    path = distiller.save_student(tmp_path / "ckpt" / "student.pt")
    assert [p.name for p in path.parent.iterdir()] == ["student.pt"]  # no temporary left
    loaded = load_student(path, factory=tiny_model)
    assert type(loaded) is type(distiller.student) and not loaded.training
    distiller.student.eval()
    with torch.no_grad():
        expected = distiller.student(batch["degraded_t1"], batch["degraded_t2"]).logits
        got = loaded(batch["degraded_t1"], batch["degraded_t2"]).logits
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    payload = torch.load(path, weights_only=True)
    assert payload["hicd"]["model_config"] == {"width": 4, "in_channels": 3}
    assert payload["hicd"]["role"] == "student" and payload["hicd"]["method"] == "hicd"
    assert all(k.startswith("model.") for k in payload["state_dict"])


def test_explicit_config_overwrites_atomically(tiny_model, tmp_path):
    path = tmp_path / "student.pt"
    path.write_bytes(b"old")
    save_student(path, tiny_model(width=2), {"width": 2})
    assert load_student(path, factory=tiny_model).config["width"] == 2


def test_load_rejects_missing_and_foreign_files(tiny_model, tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_student(tmp_path / "absent.pt", factory=tiny_model)
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(DataError, match="not an hicd checkpoint"):
        load_student(foreign, factory=tiny_model)
