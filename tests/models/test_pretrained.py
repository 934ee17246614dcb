"""Where the ImageNet backbone weights are found: ``$HICD_SHARED_WEIGHTS``, ``../shared/weights``
beside a checkout, torch's hub cache, else one clear refusal."""

from __future__ import annotations

from pathlib import Path

import pytest

import hicd.models.pretrained as pretrained
from hicd.errors import ConfigError
from hicd.models.pretrained import (
    MOBILENET_V2_FILE,
    checkout_root,
    require_backbone_weights,
    shared_backbone_weights,
    shared_weights_dir,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def nowhere(monkeypatch, tmp_path) -> Path:
    """No variable, not a checkout, an empty torch hub: the file is nowhere. Returns a folder
    to put it in."""
    monkeypatch.delenv("HICD_SHARED_WEIGHTS", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(pretrained, "checkout_root", lambda: None)
    return tmp_path


def _put(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MOBILENET_V2_FILE).write_bytes(b"")
    return folder / MOBILENET_V2_FILE


def test_the_checkout_is_detected_and_its_shared_folder_used(monkeypatch) -> None:
    monkeypatch.delenv("HICD_SHARED_WEIGHTS", raising=False)
    assert checkout_root() == REPO_ROOT
    assert shared_weights_dir() == REPO_ROOT.parent / "shared" / "weights"


def test_an_installed_package_has_no_checkout(monkeypatch, tmp_path) -> None:
    site = tmp_path / "lib" / "python3.11" / "site-packages" / "hicd" / "models"
    monkeypatch.setattr(pretrained, "__file__", str(site / "pretrained.py"))
    assert checkout_root() is None
    monkeypatch.delenv("HICD_SHARED_WEIGHTS", raising=False)
    assert shared_weights_dir() is None


def test_the_places_in_order(nowhere, monkeypatch) -> None:
    assert shared_backbone_weights() is None
    hub = _put(nowhere / "torch" / "hub" / "checkpoints")
    assert shared_backbone_weights() == hub  # torch's cache, last
    monkeypatch.setattr(pretrained, "checkout_root", lambda: nowhere / "repo")
    beside = _put(nowhere / "shared" / "weights")
    assert shared_backbone_weights() == beside  # beside the checkout, before the cache
    monkeypatch.setenv("HICD_SHARED_WEIGHTS", str(nowhere / "mine"))
    assert shared_backbone_weights() == beside  # the variable's folder lacks the file
    mine = _put(nowhere / "mine")
    assert shared_weights_dir() == nowhere / "mine"
    assert shared_backbone_weights() == require_backbone_weights() == mine  # the variable first


def test_absent_weights_are_refused_in_one_line_naming_the_places(nowhere) -> None:
    with pytest.raises(ConfigError) as error:
        require_backbone_weights(", or pass --pretrained none")
    message = str(error.value)
    assert "\n" not in message
    assert "$HICD_SHARED_WEIGHTS: not set" in message
    assert "../shared/weights beside the checkout: hicd is installed" in message
    assert str(nowhere / "torch" / "hub" / "checkpoints" / MOBILENET_V2_FILE) in message
    assert "never downloads" in message and message.endswith("or pass --pretrained none")


def test_the_demo_refuses_absent_weights_before_any_work(nowhere, tmp_path, capsys) -> None:
    from hicd.cli.main import main

    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("hicd: error: the ImageNet MobileNetV2")
    assert "--pretrained none" in error
    assert not out.exists()


def test_the_demo_takes_the_weights_found_or_announced_random_ones(
    nowhere, tmp_path, capsys, monkeypatch
) -> None:
    import hicd.training.demo as demo
    from hicd.cli.main import main

    assert demo.DemoConfig().pretrained == demo.SHARED
    path = _put(tmp_path / "weights")
    monkeypatch.setenv("HICD_SHARED_WEIGHTS", str(tmp_path / "weights"))
    assert demo.resolve_pretrained(demo.SHARED) == str(path)
    assert demo.resolve_pretrained(str(path)) == str(path)
    assert capsys.readouterr().err == ""
    assert demo.resolve_pretrained(None) is None
    assert "random weights (--pretrained none)" in capsys.readouterr().err
    with pytest.raises(ConfigError, match=r"--pretrained: gone\.pth not found"):
        demo.resolve_pretrained("gone.pth")

    seen = []
    monkeypatch.setattr(demo, "run_demo", lambda out, config, overwrite: seen.append(config) or [])
    monkeypatch.setattr("hicd.evaluation.results.side_by_side_table", lambda rows: "")
    for value, expected in (
        ("none", None),
        ("None", None),
        ("shared", "shared"),
        ("w.pth", "w.pth"),
    ):
        assert main(["demo", "--quick", "--pretrained", value]) == 0
        assert seen[-1].pretrained == expected
