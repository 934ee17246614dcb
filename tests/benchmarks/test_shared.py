"""The benchmarks find the shared data and weights through the variables the library and the
tests use (``$HICD_SHARED_DATA``, ``$HICD_SHARED_WEIGHTS``), in one place."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from benchmarks import shared
from benchmarks.study import folds

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_shared_data_dir_follows_the_variable(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("HICD_SHARED_DATA", raising=False)
    assert shared.shared_data_dir() == REPO_ROOT.parent / "shared" / "data"
    monkeypatch.setenv("HICD_SHARED_DATA", str(tmp_path))
    assert shared.shared_data_dir() == tmp_path
    assert folds.shared_data_dir is shared.shared_data_dir  # the study uses the same one


def test_no_benchmark_builds_a_shared_path_itself() -> None:
    pattern = re.compile(r"""["']shared["']|shared/(data|weights)["']""")
    offenders = [
        str(path.relative_to(REPO_ROOT))
        for path in sorted((REPO_ROOT / "benchmarks").rglob("*.py"))
        if path.name != "shared.py" and pattern.search(path.read_text())
    ]
    assert offenders == []


def test_inspect_accuracy_defaults_to_the_variable(monkeypatch, tmp_path, capsys) -> None:
    from benchmarks import inspect_accuracy

    monkeypatch.setenv("HICD_SHARED_DATA", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "500")  # the path on one line
    monkeypatch.setattr("sys.argv", ["inspect_accuracy", "--help"])
    with pytest.raises(SystemExit):
        inspect_accuracy.main()
    assert f"(default: {tmp_path})" in " ".join(capsys.readouterr().out.split())
