"""Checkpoints load with ``weights_only=True``: nothing in a file runs, and whatever is not an
hicd checkpoint is refused with one line saying what it is, in the API and in predict, evaluate
and export."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from hicd.cli.main import main
from hicd.errors import DataError
from hicd.models import create_model
from hicd.models.checkpoint import (
    CheckpointInfo,
    load_model,
    read_checkpoint,
    save_model_checkpoint,
)


class CreatesFile:
    """Unpickling this calls ``open(marker, "w")``: the file exists afterwards if code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def malicious(folder: Path, torch_format: bool) -> tuple[Path, Path]:
    """A checkpoint-like file whose loading would create ``marker``; (file, marker)."""
    marker = folder / "executed"
    payload = {"state_dict": {"model.w": torch.zeros(1)}, "trap": CreatesFile(marker)}
    path = folder / "evil.ckpt"
    if torch_format:
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload, protocol=4))
    return path, marker


def foreign_lightning(path: Path) -> Path:
    state = {"layer.weight": torch.zeros(2, 2)}
    torch.save(
        {"epoch": 3, "global_step": 30, "pytorch-lightning_version": "2.4.0", "state_dict": state},
        path,
    )
    return path


def truncated(path: Path, source: Path) -> Path:
    data = source.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.mark.parametrize("torch_format", [True, False], ids=["torch.save", "pickle"])
def test_malicious_pickle_is_refused_without_running(tmp_path, torch_format):
    path, marker = malicious(tmp_path, torch_format)
    with pytest.raises(DataError) as raised:
        load_model(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: refused: the file needs code execution to load")
    assert "open" in message and "save_model_checkpoint" in message and "\n" not in message
    assert not marker.exists()
    pickle.loads(pickle.dumps(CreatesFile(marker)))  # the trap is real: plain unpickling runs it
    assert marker.exists()


def test_refusal_holds_when_torch_is_told_to_trust_files(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    path, marker = malicious(tmp_path, torch_format=True)
    with pytest.raises(DataError, match="needs code execution"):
        load_model(path)
    assert not marker.exists()


@pytest.mark.parametrize(("suffix", "kind"), [(".png", "PNG"), (".jpg", "JPEG"), (".tif", "TIFF")])
def test_image_is_refused(tmp_path, png_writer, suffix, kind):
    path = png_writer(tmp_path / f"t1{suffix}", np.zeros((8, 8, 3)))
    expected = f"{path} is a {kind} image, not a checkpoint (did you swap --checkpoint and --t1?)"
    with pytest.raises(DataError) as raised:
        load_model(path)
    assert str(raised.value) == expected


def test_plain_state_dict_is_refused_with_the_recipe(tmp_path, tiny_checkpoint):
    model, _ = load_model(tiny_checkpoint)
    path = tmp_path / "weights.pth"
    torch.save(model.state_dict(), path)
    with pytest.raises(DataError, match=r"weights\.pth: not an hicd checkpoint: it is a plain "):
        load_model(path)
    with pytest.raises(DataError, match=r"create_model.*save_model_checkpoint.*prediction\.md"):
        load_model(path)


def test_foreign_lightning_checkpoint_is_refused(tmp_path):
    path = foreign_lightning(tmp_path / "other.ckpt")
    with pytest.raises(DataError, match=r"other\.ckpt: .*Lightning checkpoint of another project"):
        load_model(path)


@pytest.mark.parametrize("content", [None, b"", b"hello\n"], ids=["truncated", "empty", "text"])
def test_unreadable_file_is_refused(tmp_path, tiny_checkpoint, content):
    path = tmp_path / "broken.ckpt"
    if content is None:
        truncated(path, tiny_checkpoint)
    else:
        path.write_bytes(content)
    with pytest.raises(DataError, match=r"broken\.ckpt: unreadable checkpoint \(.+\)$"):
        load_model(path)


def test_folder_and_missing_file_are_refused(tmp_path):
    with pytest.raises(DataError, match="is a folder, not a checkpoint file"):
        load_model(tmp_path)
    with pytest.raises(DataError, match=r"absent\.ckpt: checkpoint not found"):
        load_model(tmp_path / "absent.ckpt")


def test_own_checkpoint_loads_with_weights_only(tiny_checkpoint):
    raw = torch.load(tiny_checkpoint, map_location="cpu", weights_only=True)
    checkpoint, info = read_checkpoint(tiny_checkpoint)
    assert checkpoint.keys() == raw.keys() and info.tile_size == 64


def test_recipe_of_the_docs_makes_a_checkpoint(tmp_path):
    # docs/prediction.md, "Checkpoints": from a plain state_dict to an hicd checkpoint.
    torch.manual_seed(0)
    source = create_model("siam_fpn", backbone="tv_mobilenet_v2", decoder_channels=16)
    torch.save(source.state_dict(), tmp_path / "weights.pth")

    model = create_model("siam_fpn", backbone="tv_mobilenet_v2", decoder_channels=16)
    model.load_state_dict(torch.load(tmp_path / "weights.pth", weights_only=True))
    info = CheckpointInfo(model_config=dict(model.config), tile_size=256)
    save_model_checkpoint(tmp_path / "model.ckpt", model, info)

    loaded, loaded_info = load_model(tmp_path / "model.ckpt")
    assert loaded_info.tile_size == 256
    for key, value in source.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value, rtol=0, atol=0)


def plain_state_dict(path: Path, source: Path) -> Path:
    torch.save(load_model(source)[0].state_dict(), path)
    return path


BAD_CHECKPOINTS = {
    # kind: (make(folder, a good checkpoint) -> path, what the message says)
    "malicious": (lambda folder, _: malicious(folder, torch_format=True)[0], "code execution"),
    "image": (lambda folder, _: folder / "pair" / "A" / "x.png", "is a PNG image"),
    "state_dict": (lambda folder, good: plain_state_dict(folder / "s.pt", good), "plain state"),
    "lightning": (lambda folder, _: foreign_lightning(folder / "l.ckpt"), "another project"),
    "truncated": (lambda folder, good: truncated(folder / "t.ckpt", good), "unreadable"),
}


def command(name: str, checkpoint: Path, folder: Path) -> tuple[list[str], Path]:
    """argv of ``hicd NAME`` with ``checkpoint`` and valid other inputs, and its output."""
    pair = folder / "pair"
    if name == "predict":
        out = folder / "change.tif"
        inputs = ["--t1", str(pair / "A" / "x.png"), "--t2", str(pair / "B" / "x.png"), "--quiet"]
        return ["predict", "--checkpoint", str(checkpoint), *inputs, "--out", str(out)], out
    if name == "evaluate":
        out = folder / "results"
        options = ["--data", str(pair), "--settings", "clean", "--quiet"]
        return ["evaluate", "--checkpoint", str(checkpoint), *options, "--out", str(out)], out
    out = folder / "model.onnx"
    return ["export", "--checkpoint", str(checkpoint), "--out", str(out)], out


@pytest.mark.parametrize("name", ["predict", "evaluate", "export"])
@pytest.mark.parametrize("kind", list(BAD_CHECKPOINTS))
def test_cli_refuses_bad_checkpoints(tmp_path, capsys, png_writer, tiny_checkpoint, kind, name):
    rng = np.random.default_rng(0)
    for date in ("A", "B"):
        png_writer(tmp_path / "pair" / date / "x.png", rng.integers(0, 256, (32, 32, 3)))
    png_writer(tmp_path / "pair" / "label" / "x.png", rng.choice([0, 255], (32, 32)))
    make, expected = BAD_CHECKPOINTS[kind]
    checkpoint = make(tmp_path, tiny_checkpoint)
    argv, out = command(name, checkpoint, tmp_path)
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(f"hicd: error: {checkpoint}")
    assert expected in captured.err and captured.err.count("\n") == 1
    assert not out.exists()
    assert not (tmp_path / "executed").exists()
