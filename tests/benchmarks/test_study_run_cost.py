"""The run-cost benchmark's timer splits a run into phases that add up to its seconds."""

from __future__ import annotations

import time

import pytest
from tests.conftest import tiny_teacher_run

from benchmarks.study_run_cost import PhaseTimer, phases
from hicd.training.runs import fit_best


def test_phases_of_a_tiny_run_add_up(tmp_path) -> None:
    module, data = tiny_teacher_run()
    timer = PhaseTimer()
    started = time.perf_counter()
    fit_best(module, data, steps=4, run=tmp_path, val_every=2, progress=False, callbacks=[timer])
    record = {"seconds": time.perf_counter() - started, "score_seconds": 0.5}
    parts = phases(record, timer)
    assert (timer.batches, timer.validations) == (4, 2)  # every step and validation timed
    assert all(value >= 0 for value in parts.values())
    assert parts["steps"] > 0 and parts["validation"] > 0
    assert sum(parts.values()) == pytest.approx(record["seconds"] + 0.5)
