"""The inference engines: ONNX Runtime matches PyTorch, the export cache, the fallback."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import rasterio
import torch
from PIL import Image

import hicd.inference.engine as engine_module
from hicd.api import ChangeDetector
from hicd.cli.main import main
from hicd.errors import ConfigError
from hicd.inference.engine import OnnxNetwork, build_engine, cache_dir, cache_key, check_engine
from hicd.models.checkpoint import load_model

from .conftest import write_geotiff


def _levir_pair(shared_data):
    folder = shared_data / "levir-cd-256"
    name = sorted((folder / "A").iterdir())[0].name
    return [np.asarray(Image.open(folder / date / name).convert("RGB")) for date in ("A", "B")]


def test_onnx_probabilities_match_torch_on_a_real_tile(tiny_checkpoint, shared_data):
    t1, t2 = _levir_pair(shared_data)
    torch_detector = ChangeDetector.from_checkpoint(tiny_checkpoint, "cpu", engine="torch")
    onnx_detector = ChangeDetector.from_checkpoint(tiny_checkpoint, "cpu", engine="onnx")
    assert isinstance(onnx_detector.model, OnnxNetwork)
    expected = torch_detector.predict(t1, t2, tile=128, overlap=32)
    actual = onnx_detector.predict(t1, t2, tile=128, overlap=32)
    assert expected.std() > 1e-3  # the map varies, so the comparison means something
    np.testing.assert_allclose(actual, expected, atol=1e-4, rtol=0)
    np.testing.assert_array_equal(actual >= 0.5, expected >= 0.5)


def test_auto_is_the_default_and_onnx_on_the_cpu(tiny_checkpoint):
    assert isinstance(ChangeDetector.from_checkpoint(tiny_checkpoint, "cpu").model, OnnxNetwork)
    torch_detector = ChangeDetector.from_checkpoint(tiny_checkpoint, "cpu", "torch")
    assert not isinstance(torch_detector.model, OnnxNetwork)


def test_the_session_keeps_its_arena_and_does_not_spin(tiny_checkpoint):
    network = ChangeDetector.from_checkpoint(tiny_checkpoint, "cpu", "onnx").model
    options = network.session.get_session_options()
    assert options.enable_cpu_mem_arena is True
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert options.intra_op_num_threads == torch.get_num_threads()


def test_the_export_is_cached_and_keyed_by_content(tiny_checkpoint, tmp_path, monkeypatch):
    monkeypatch.setenv("HICD_CACHE_DIR", str(tmp_path / "cache"))
    exports = []
    real_write = engine_module.write_onnx
    monkeypatch.setattr(engine_module, "write_onnx", lambda *a: exports.append(a) or real_write(*a))
    model, info = load_model(tiny_checkpoint)
    build_engine(tiny_checkpoint, model, info, "onnx")
    build_engine(tiny_checkpoint, model, info, "onnx")
    assert len(exports) == 1
    assert [p.name for p in cache_dir().iterdir()] == [f"{cache_key(tiny_checkpoint)}.onnx"]

    changed = tmp_path / "changed.ckpt"
    shutil.copy(tiny_checkpoint, changed)
    with changed.open("ab") as handle:
        handle.write(b"\0")  # other content: another key, never the stale graph
    assert cache_key(changed) != cache_key(tiny_checkpoint)
    build_engine(changed, model, info, "onnx")
    assert len(exports) == 2


def test_a_network_that_does_not_export_falls_back_to_torch(
    tiny_checkpoint, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("HICD_CACHE_DIR", str(tmp_path / "cache"))

    def broken(*args):
        raise RuntimeError("unsupported operator\nmore detail")

    monkeypatch.setattr(engine_module, "write_onnx", broken)
    model, info = load_model(tiny_checkpoint)
    assert build_engine(tiny_checkpoint, model, info, "auto") is model
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert "ONNX export failed" in lines[0] and "unsupported operator" in lines[0]
    assert not list((tmp_path / "cache").glob("**/*.onnx"))


def test_engine_names_are_checked():
    with pytest.raises(ConfigError, match="--engine: 'tensorrt' is not one of"):
        check_engine("tensorrt")
    assert check_engine("onnx") == "onnx"


def test_auto_keeps_torch_on_a_gpu(tiny_checkpoint):
    model, info = load_model(tiny_checkpoint)
    # the device is only compared, never used, so no GPU is needed
    assert build_engine(tiny_checkpoint, model, info, "auto", torch.device("meta")) is model


def test_auto_takes_onnx_runtime_on_cuda_only_with_its_cuda_provider(monkeypatch):
    import onnxruntime

    cuda = torch.device("cuda")
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CPUExecutionProvider"])
    assert not engine_module.onnx_serves(cuda)
    with pytest.raises(ConfigError, match="--engine torch"):
        engine_module.onnx_providers(cuda)
    monkeypatch.setattr(
        onnxruntime,
        "get_available_providers",
        lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"],
    )
    assert engine_module.onnx_serves(cuda)
    assert engine_module.onnx_providers(cuda)[0] == "CUDAExecutionProvider"


def test_predict_cli_engines_agree(tiny_checkpoint, tmp_path):
    rng = np.random.default_rng(0)
    t1 = write_geotiff(tmp_path / "t1.tif", rng.integers(0, 256, (3, 96, 80), dtype=np.uint8))
    t2 = write_geotiff(tmp_path / "t2.tif", rng.integers(0, 256, (3, 96, 80), dtype=np.uint8))
    maps = {}
    for engine in ("torch", "onnx"):
        out = tmp_path / f"{engine}.tif"
        code = main(
            ["predict", "--checkpoint", str(tiny_checkpoint), "--t1", str(t1), "--t2", str(t2),
             "--out", str(out), "--engine", engine, "--probabilities", "--device", "cpu",
             "--tile", "64", "--quiet", "--no-quicklook"]
        )  # fmt: skip
        assert code == 0
        with rasterio.open(out) as dataset:
            maps[engine] = dataset.read(1)
    np.testing.assert_allclose(maps["onnx"], maps["torch"], atol=1e-4, rtol=0)


def test_predict_cli_refuses_an_unknown_engine(tiny_checkpoint, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["predict", "--checkpoint", str(tiny_checkpoint), "--t1", "a", "--t2", "b",
              "--out", str(tmp_path / "o.tif"), "--engine", "tensorrt"])  # fmt: skip
    assert exit_info.value.code == 2
    assert "--engine" in capsys.readouterr().err


def test_threads_option_sets_the_thread_count_of_both_engines(tiny_checkpoint, tmp_path, capsys):
    rng = np.random.default_rng(0)
    t1 = write_geotiff(tmp_path / "t1.tif", rng.integers(0, 256, (3, 64, 64), dtype=np.uint8))
    before = torch.get_num_threads()
    seen = []
    real_init = OnnxNetwork.__init__

    def spy(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        seen.append(self.session.get_session_options().intra_op_num_threads)

    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(OnnxNetwork, "__init__", spy)
            code = main(
                ["predict", "--checkpoint", str(tiny_checkpoint), "--t1", str(t1), "--t2", str(t1),
                 "--out", str(tmp_path / "c.tif"), "--threads", "1", "--device", "cpu",
                 "--quiet", "--no-quicklook"]
            )  # fmt: skip
        assert code == 0 and seen == [1] and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    with pytest.raises(SystemExit):
        main(["predict", "--checkpoint", str(tiny_checkpoint), "--t1", str(t1), "--t2", str(t1),
              "--out", str(tmp_path / "d.tif"), "--threads", "0"])  # fmt: skip
    assert "--threads: expected a whole number >= 1, got '0'" in capsys.readouterr().err


def test_the_gpu_batch_default_holds_for_onnx_runtime(tiny_checkpoint, tmp_path, monkeypatch):
    """An ONNX Runtime network has no parameters to say where it runs: on a GPU it still takes
    the GPU's default batch (8 windows), not the CPU's (4). The CUDA provider is faked (the
    session computes on the CPU here), so no GPU is needed."""
    import hicd.inference.scene as scene_module
    from hicd.inference.device import execution_device
    from hicd.inference.scene import BATCH_SIZES, PredictOptions, predict_scene

    monkeypatch.setattr(engine_module, "onnx_providers", lambda device: ["CPUExecutionProvider"])
    model, info = load_model(tiny_checkpoint)
    network = build_engine(tiny_checkpoint, model, info, "onnx", torch.device("cuda"))
    assert isinstance(network, OnnxNetwork)
    assert execution_device(network) == torch.device("cuda")
    assert execution_device(model) == torch.device("cpu")  # a PyTorch model: its parameters

    forwards = []
    real_forward = OnnxNetwork.forward
    monkeypatch.setattr(
        OnnxNetwork,
        "forward",
        lambda self, a, b: forwards.append(len(a)) or real_forward(self, a, b),
    )
    streamed = []
    real_stream = scene_module.stream_change_probability
    monkeypatch.setattr(
        scene_module,
        "stream_change_probability",
        lambda *args, **kwargs: streamed.append(args[6]) or real_stream(*args, **kwargs),
    )
    rng = np.random.default_rng(0)
    t1 = write_geotiff(tmp_path / "t1.tif", rng.integers(0, 256, (3, 64, 640), dtype=np.uint8))
    t2 = write_geotiff(tmp_path / "t2.tif", rng.integers(0, 256, (3, 64, 640), dtype=np.uint8))
    options = PredictOptions(inspect=False, quicklook=False)
    predict_scene(network, info, t1, t2, tmp_path / "map.tif", options)
    assert streamed == [BATCH_SIZES["cuda"]] == [8]
    assert max(forwards) == 8  # 13 windows of 64 px in one row: batches of 8 and 5
    predict_scene(model, info, t1, t2, tmp_path / "cpu.tif", options)
    assert streamed[-1] == BATCH_SIZES["cpu"]
