"""The cross-validated study (benchmarks/study): folds without leaks, records that round-trip,
statistics and the report on committed fixture records, the plan's bookkeeping."""

from __future__ import annotations

import json
import math
from inspect import signature
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmarks.study import records
from benchmarks.study.cli import main
from benchmarks.study.configs import CHOSEN, PLAN, label_hash, labels, resolve, unlabelled_bn
from benchmarks.study.folds import (
    LEVIR_TILES,
    Fold,
    build,
    check_fold,
    fold_names,
    levir_folds,
    sztaki_folds,
)
from benchmarks.study.plan import Study, progress
from benchmarks.study.report import _df, report
from benchmarks.study.statistics import (
    compare,
    pairs,
    pooled_compare,
    pooled_f1,
    students,
    variance_components,
)
from hicd.degradations.settings import DegradationSetting
from hicd.distillation import DistillationConfig
from hicd.distillation.config import PRESETS
from hicd.training.student import StudentModule

FIXTURES = Path(__file__).parent / "fixtures" / "study"


def test_levir_folds_leave_one_tile_out(shared_data):
    folds = levir_folds(shared_data)
    assert [f.name for f in folds] == list(LEVIR_TILES) == fold_names("levir")
    for fold in folds:
        check_fold(fold, shared_data)
        assert fold.test == (f"{fold.name}.png",)
        assert not [n for n in fold.train + fold.val if n.startswith(f"{fold.name}_r")]
        assert (len(fold.train), len(fold.val)) == (60, 20)
        assert len(fold.crops) == 9
        # no crop lies inside a full tile (their names carry the tile)
        assert not [c for c in fold.crops if "_".join(c.split("_")[:2]) in LEVIR_TILES]
    assert sorted(t for f in folds for t in f.test) == sorted(f"{t}.png" for t in LEVIR_TILES)


def test_sztaki_folds_test_every_image_once(shared_data):
    folds = sztaki_folds(shared_data)
    tested = [name for fold in folds for name in fold.test]
    assert sorted(tested) == sorted(p.name for p in (shared_data / "sztaki-airchange/A").iterdir())
    for fold in folds:
        check_fold(fold, shared_data)
        stems = {Path(n).stem for n in fold.test}
        assert not [b for b in fold.train + fold.val if b.rsplit("_r", 1)[0] in stems]


def test_check_fold_finds_a_planted_leak(shared_data):
    fold = levir_folds(shared_data)[0]
    leaky = Fold(
        fold.dataset, fold.name, (*fold.train, f"{fold.name}_r1c2.png"), fold.val, fold.test
    )
    with pytest.raises(ValueError, match="overlaps a test image"):
        check_fold(leaky, shared_data)
    twice = Fold(fold.dataset, fold.name, fold.train, (*fold.val, fold.train[0]), fold.test)
    with pytest.raises(ValueError, match="overlaps training"):
        check_fold(twice, shared_data)


def test_build_writes_the_folds_lists_and_true_windows(shared_data, tmp_path):
    folds = build("levir", tmp_path, shared_data)
    for fold in folds:
        for role, names in fold.roles.items():
            listed = (tmp_path / "list" / f"{fold.split(role)}.txt").read_text().split()
            assert listed == list(names)
    block = np.asarray(Image.open(tmp_path / "A" / "test_1_r2c3.png"))
    tile = np.asarray(Image.open(shared_data / "levir-cd-1024-extra/A/test_1.png"))
    assert np.array_equal(block, tile[512:768, 768:1024])
    assert (tmp_path / "label" / "test_101.png").resolve().is_file()


def test_record_round_trips(tmp_path):
    record = json.loads(next(FIXTURES.glob("levir/test_7/scratch-*.json")).read_text())
    path = records.save(tmp_path, record)
    assert path.parent == tmp_path / "levir" / "test_7"
    assert records.load(tmp_path) == [record]


def test_statistics_on_fixture_records():
    runs = records.load(FIXTURES)
    none = students(runs, "levir", "multi-x4", "scratch", "none")
    hicd = students(runs, "levir", "multi-x4", "scratch", "hicd")
    assert pooled_f1(none, "test", "multi-x4") == pytest.approx(0.75)
    assert pooled_f1(hicd, "test", "multi-x4") == pytest.approx(0.79)
    result = compare(pairs(hicd, none), "test", "multi-x4")
    # per (fold, seed): +0.10 +0.05 | -0.02 +0.03; fold means 0.075 and 0.005 (df = 1)
    assert (result.n_pairs, result.n_folds, result.wins) == (4, 2, 3)
    assert result.per_fold == pytest.approx({"test_7": 0.075, "test_102": 0.005})
    assert result.mean == pytest.approx(0.04)
    half = 12.7062047 * 0.07 / math.sqrt(2) / math.sqrt(2)
    assert (result.low, result.high) == pytest.approx((0.04 - half, 0.04 + half))
    assert result.boot_low <= result.mean <= result.boot_high
    # seeds: deviations ±0.025 in both folds (df 2); folds: var of the means 0.00245 less 0.000625
    assert result.seed_sd == pytest.approx(math.sqrt(0.00125))
    assert result.fold_sd == pytest.approx(math.sqrt(0.001825))
    floor = 12.7062047 * math.sqrt(0.001825) / math.sqrt(2)
    assert result.projected_half_width(math.inf) == pytest.approx(floor)
    with_ten = 12.7062047 * math.sqrt(0.001825 + 0.00125 / 10) / math.sqrt(2)
    assert result.projected_half_width(10) == pytest.approx(with_ten)


def test_pooled_comparison_pairs_pooled_f1_per_seed():
    runs = records.load(FIXTURES)
    none = students(runs, "levir", "multi-x4", "scratch", "none")
    hicd = students(runs, "levir", "multi-x4", "scratch", "hicd")
    result = pooled_compare(pairs(hicd, none), "test", "multi-x4")
    per_seed = [
        pooled_f1([r for r in hicd if r["seed"] == s], "test", "multi-x4")
        - pooled_f1([r for r in none if r["seed"] == s], "test", "multi-x4")
        for s in (0, 1)
    ]
    assert (result.seeds, result.folds) == (2, 2)
    assert result.mean == pytest.approx(np.mean(per_seed))
    assert result.seed_sd == pytest.approx(np.std(per_seed, ddof=1))
    assert result.boot_low <= result.mean <= result.boot_high
    assert result.low < result.boot_low and result.high > result.boot_high  # seeds add spread
    # a seed missing on one fold is left out; one seed left cannot give an interval
    found = [p for p in pairs(hicd, none) if not (p.seed == 1 and p.fold == "test_7")]
    assert pooled_compare(found, "test", "multi-x4") is None


def test_variance_components_split_seeds_from_folds():
    # the same fold means: all the spread is the seeds'
    assert variance_components({"a": [1.0, 3.0], "b": [1.0, 3.0]}) == pytest.approx(
        (math.sqrt(2), 0.0)
    )
    # no seed spread: all of it is the folds'
    assert variance_components({"a": [1.0, 1.0], "b": [3.0, 3.0]}) == pytest.approx(
        (0.0, math.sqrt(2))
    )
    # one seed per fold cannot tell them apart
    assert all(math.isnan(v) for v in variance_components({"a": [1.0], "b": [2.0]}))


def test_pooled_df_reads_as_a_bound_once_the_cells_dominate():
    assert [_df(v) for v in (3.4, 99.0, 19041.0, math.inf)] == ["3", "99", "> 99", "∞"]


def test_report_from_fixture_records_gives_known_numbers():
    text = report(records.load(FIXTURES))
    assert "| scratch none | 4 | 2 | 2 | 75.00 | 75.00 |" in text
    assert "| scratch hicd | 4 | 2 | 2 | 79.00 | 79.00 |" in text
    assert "| scratch: hicd − none | test | 4 | 2 | +4.00 | [-40.47, +48.47] | 44.47 |" in text
    assert "Not chosen yet" in text
    assert "| scratch: hicd − none | 3.54 | 4.27 | 44.47 |" in text
    assert "| scratch: hicd − none | 2 | +4.00 |" in text  # pooled over the held-out tiles
    assert "| comparison | test_102 | test_7 |" in text  # per held-out fold, fold means
    assert "| scratch: hicd − none | +0.50 | +7.50 |" in text


def test_unchosen_candidates_are_reported_on_validation_only():
    runs = records.load(FIXTURES)
    variant = [
        dict(r, label="hicd λ0.3", config_hash=label_hash("hicd λ0.3"))
        for r in students(runs, "levir", "multi-x4", "scratch", "hicd")
    ]
    text = report(runs + variant)
    assert "| scratch hicd λ0.3 | 4 | 2 | 2 | – | – | – | – | 84.00 | 84.00 |" in text
    assert "| scratch: hicd λ0.3 − none | val |" in text
    assert "hicd λ0.3 − none | test" not in text and "hicd λ0.3 − none | crops" not in text
    assert "| scratch: hicd − none | test |" in text  # the core comparison stays


def test_hicd_is_compared_with_the_plain_baselines():
    runs = records.load(FIXTURES)
    feature = [  # copies of none: hicd − feature must equal hicd − none
        dict(r, label="feature", config_hash=label_hash("feature"))
        for r in students(runs, "levir", "multi-x4", "scratch", "none")
    ]
    text = report(runs + feature)
    assert "| scratch: feature − none | test | 4 | 2 | +0.00 |" in text
    assert "| scratch: hicd − feature | test | 4 | 2 | +4.00 | [-40.47, +48.47] |" in text
    assert "| scratch: hicd − logit |" not in text  # no logit records, no row


def test_other_settings_choose_their_best_on_their_own_validation():
    def moved(run, val=None, **changes):  # a fixture student as if trained at resolution ×4
        scores = {split: {"resolution-x4": by["multi-x4"]} for split, by in run["scores"].items()}
        if val is not None:
            scores["val"] = {
                "resolution-x4": {name: [val] for name in scores["val"]["resolution-x4"]}
            }
        return dict(run, setting="resolution-x4", scores=scores, **changes)

    runs = records.load(FIXTURES)
    hicd = students(runs, "levir", "multi-x4", "scratch", "hicd")
    none = students(runs, "levir", "multi-x4", "scratch", "none")
    perfect, poor = [100, 0, 1000, 0], [50, 50, 1000, 50]
    others = [  # better on validation but not candidates (baselines, unlabelled), or worse
        *(moved(r, perfect, label=lb, config_hash=label_hash(lb))
          for r in hicd for lb in ("feature", "hicd +unlabelled")),
        *(moved(r, poor, regime="finetune") for r in hicd),
        *(moved(r, perfect, regime="finetune") for r in none),
    ]  # fmt: skip
    text = report([moved(r) for r in hicd + none] + others)
    row = "| best on this validation: distilled (scratch hicd) − undistilled (finetune none) |"
    assert f"{row} test | 4 | 2 | +4.00 | [-40.47, +48.47] |" in text
    assert "best on this validation" not in report(runs)  # multi ×4 keeps the plan's choice
    assert "best on this validation" not in report([moved(r) for r in none])  # nothing to pair


def test_pairs_need_the_same_teacher():
    runs = records.load(FIXTURES)
    none = students(runs, "levir", "multi-x4", "scratch", "none")
    hicd = [
        dict(r, teacher="other") for r in students(runs, "levir", "multi-x4", "scratch", "hicd")
    ]
    assert pairs(hicd, none) == []


def test_plan_names_known_labels_and_settings():
    known = set(labels()) | {CHOSEN}
    for entry in PLAN:
        assert set(entry.labels) <= known
        DegradationSetting.parse(entry.setting)
    assert PLAN[0].setting == "multi-x4"  # multi ×4 completes first


def test_a_run_is_done_only_where_it_pairs(tmp_path):
    study = Study(tmp_path / "work", FIXTURES)
    fold = Fold("levir", "test_7", (), (), ("test_7.png",))
    assert study.done(fold, 0, "scratch", "multi-x4", "hicd")
    assert not study.done(fold, 2, "scratch", "multi-x4", "hicd")
    study.records = [r for r in study.records if r.get("config_hash") != label_hash("none")]
    assert not study.done(fold, 0, "scratch", "multi-x4", "hicd")  # its none is gone


@pytest.mark.slow
def test_quick_study_trains_records_and_reports(shared_data, mobilenet_weights, tmp_path, capsys):
    main(["--quick", "--results", str(tmp_path / "r"), "--work", str(tmp_path / "w")])
    runs = records.load(tmp_path / "r")
    by_dataset = {d: sorted(r["label"] for r in runs if r["role"] == "student" and r["dataset"] == d)
                  for d in ("levir", "sztaki")}  # fmt: skip
    assert by_dataset == {"levir": ["hicd", "hicd +unlabelled", "none"], "sztaki": ["hicd", "none"]}
    tested = {name for fold in sztaki_folds(shared_data) if fold.name == "k0" for name in fold.test}
    for run in runs:
        if run["dataset"] == "sztaki":  # the fold's teacher and students, scored per test image
            assert set(run["scores"]["test"]["multi-x4"]) == {Path(n).stem for n in tested}
    free = next(r for r in runs if r.get("label") == "hicd +unlabelled")
    assert (
        free["unlabelled"]
        and free["unlabelled_bn"] == "batch"
        and free["scores"]["test"]["multi-x4"]["test_7"]
    )
    out = capsys.readouterr().out
    assert "finetune: hicd +unlabelled − hicd" in out and "## sztaki, multi-x4" in out
    before = {p: p.read_bytes() for p in (tmp_path / "r").glob("*/*/*.json")}
    main(["--quick", "--results", str(tmp_path / "r"), "--work", str(tmp_path / "w")])
    after = {p: p.read_bytes() for p in (tmp_path / "r").glob("*/*/*.json")}
    assert after == before  # the plan continues where the records stop: nothing retrained


def test_study_configurations_stay_tied_to_the_library():
    assert resolve("hicd") == DistillationConfig()
    assert resolve("hicd λ1") == DistillationConfig(**PRESETS["hicd-finetune"])
    assert (
        resolve("hicd +unlabelled") == resolve("hicd +unlabelled (BN updated)") == resolve("hicd")
    )
    hashes = {label_hash(x) for x in ("hicd", "hicd +unlabelled", "hicd +unlabelled (BN updated)")}
    assert len(hashes) == 3
    # the first label-free records (before unlabelled_bn existed) keep their hash mark
    assert label_hash("hicd +unlabelled (BN updated)") == label_hash("hicd") + "u"
    assert (
        unlabelled_bn("hicd +unlabelled")
        == signature(StudentModule).parameters["unlabelled_bn"].default
    )
    assert unlabelled_bn("hicd +unlabelled (BN updated)") == "update"


def test_progress_counts_the_plans_runs_from_records():
    rows = dict((phase, (done, total)) for phase, done, total in progress(records.load(FIXTURES)))
    # the fixtures hold scratch none and hicd of folds test_7 and test_102, seeds 0-1
    assert rows["core"] == (8, 6 * 2 * 2 * 2)
    assert rows["chosen seed 2"] == (0, 0)  # nothing chosen yet
