"""Where the shared backbone weights are found: ``../shared/weights`` or ``$HICD_SHARED_WEIGHTS``."""

from __future__ import annotations

from pathlib import Path

from hicd.models.pretrained import MOBILENET_V2_FILE, shared_backbone_weights, shared_weights_dir

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_shared_weights_dir_is_beside_the_checkout(monkeypatch) -> None:
    monkeypatch.delenv("HICD_SHARED_WEIGHTS", raising=False)
    assert shared_weights_dir() == REPO_ROOT.parent / "shared" / "weights"


def test_shared_weights_override(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("HICD_SHARED_WEIGHTS", str(tmp_path))
    assert shared_backbone_weights() is None
    (tmp_path / MOBILENET_V2_FILE).write_bytes(b"")
    assert shared_backbone_weights() == tmp_path / MOBILENET_V2_FILE


def test_demo_uses_the_shared_weights(monkeypatch, tmp_path) -> None:
    from hicd.training.demo import DemoConfig

    monkeypatch.setenv("HICD_SHARED_WEIGHTS", str(tmp_path))
    assert DemoConfig().pretrained is None
    (tmp_path / MOBILENET_V2_FILE).write_bytes(b"")
    assert DemoConfig().pretrained == str(tmp_path / MOBILENET_V2_FILE)
