"""An installed wheel (no checkout beside it) finds the backbone weights through
``$HICD_SHARED_WEIGHTS``, and without them refuses ``hicd demo`` in one line instead of training
from random weights.

The wheel is built from a copy of the project without build isolation (nothing is downloaded)
and installed with ``--no-deps`` into a fresh virtual environment outside the checkout; a
``.pth`` file there lets it import this environment's packages (torch, Lightning, ...).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
PROJECT_FILES = ("pyproject.toml", "README.md", "LICENSE", "src")


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=300, **kwargs)


def _installed_hicd(tmp_path: Path) -> Path:
    """A virtual environment holding the project's wheel alone; returns its bin folder."""
    source = tmp_path / "project"
    source.mkdir()
    for name in PROJECT_FILES:
        path = REPO_ROOT / name
        if path.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
            shutil.copytree(path, source / name, ignore=ignore)
        elif path.is_file():
            shutil.copy2(path, source / name)
    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    built = _run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                  "-w", str(wheels), str(source)])  # fmt: skip
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    (wheel,) = wheels.glob("hicd-*.whl")
    venv = tmp_path / "venv"
    made = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    installed = _run([*pip, "--python", str(python), "install", "--no-deps", "--no-index",
                      str(wheel)])  # fmt: skip
    assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-2000:]
    site = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    ours = {sysconfig.get_paths()[key] for key in ("purelib", "platlib")}
    (Path(site.stdout.strip()) / "test-environment.pth").write_text("\n".join(sorted(ours)) + "\n")
    return venv / "bin"


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("setuptools") is None, reason="building the wheel needs setuptools"
)
def test_an_installed_wheel_finds_the_weights_or_refuses(tmp_path, mobilenet_weights) -> None:
    bin_dir = _installed_hicd(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HICD_SHARED_WEIGHTS")}
    env.update(TORCH_HOME=str(tmp_path / "torch"), OMP_NUM_THREADS="1")  # an empty hub cache
    env["HICD_CACHE_DIR"] = str(tmp_path / "cache")
    where = _run(
        [str(bin_dir / "python"), "-c",
         "import hicd, hicd.models.pretrained as p; print(hicd.__file__, p.checkout_root())"],
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert where.returncode == 0, where.stderr[-2000:]
    module, root = where.stdout.split()
    assert Path(module).is_relative_to(tmp_path / "venv") and root == "None", where.stderr

    refused = _run(
        [str(bin_dir / "hicd"), "demo", "--quick", "--out", "refused"], cwd=tmp_path, env=env
    )
    assert refused.returncode == 2, refused.stderr[-2000:]
    assert refused.stderr.count("\n") == 1, refused.stderr
    assert refused.stderr.startswith("hicd: error: the ImageNet MobileNetV2 backbone weights")
    assert "hicd is installed, not run from a checkout" in refused.stderr
    assert str(tmp_path / "torch" / "hub" / "checkpoints") in refused.stderr
    assert not (tmp_path / "refused").exists()

    env["HICD_SHARED_WEIGHTS"] = str(mobilenet_weights.parent)
    demo = _run([str(bin_dir / "hicd"), "demo", "--quick", "--out", "out"], cwd=tmp_path, env=env)
    assert demo.returncode == 0, demo.stderr[-2000:]
    assert f"[demo] backbone weights: {mobilenet_weights.parent}" in demo.stdout
    assert (tmp_path / "out" / "hicd.ckpt").is_file()
