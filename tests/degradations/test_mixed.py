"""The `mixed` setting (a drawn family, scale and date per pair), `@t1`/`@t2` names and `grid`."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest
import torch

from hicd.degradations import (
    GRID,
    SEVERITY_TABLE,
    SINGLE_KINDS,
    DegradationSetting,
    Degrader,
    expand_settings,
    tables,
)
from hicd.degradations.draws import sample_generator
from hicd.degradations.sampling import reduced_size, sample_plan
from hicd.errors import ConfigError

NAMES = [f"pair_{i}" for i in range(12)]


@pytest.fixture
def pairs(textured) -> tuple[torch.Tensor, torch.Tensor]:
    return textured(len(NAMES), 3, 40, 36, seed=1), textured(len(NAMES), 3, 40, 36, seed=2)


def plans(setting: str, count: int, seed: int = 0):
    parsed = DegradationSetting.parse(setting)
    return [
        sample_plan(parsed, sample_generator(seed, f"n{i}", parsed.name), (3, 16, 16), "t2")
        for i in range(count)
    ]


# ---- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "name"),
    [
        (DegradationSetting("mixed"), "mixed"),
        (DegradationSetting("mixed", t1_probability=0.5), "mixed"),
        (DegradationSetting("mixed", t1_probability=0.25), "mixed-t1p0.25"),
        (DegradationSetting("mixed", t1_probability=1), "mixed-t1p1"),
        (DegradationSetting("mixed", t1_probability=0.0), "mixed-t1p0"),
        (DegradationSetting("resolution", scale=4, date="t1"), "resolution-x4@t1"),
        (DegradationSetting("single", kind="jpeg", severity=2, date="t2"), "single-jpeg-s2@t2"),
    ],
)
def test_names_roundtrip(setting: DegradationSetting, name: str) -> None:
    assert setting.name == name
    assert DegradationSetting.parse(name) == setting
    assert setting.base_name == name.partition("@")[0]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("mixed@t1", "takes no date"),
        ("mixed-t1p1.5", r"t1_probability 1.5 .* \[0, 1\]"),
        ("mixed-t1p-0.1", r"\[0, 1\]"),
        ("mixed-t1pabc", "is not valid"),
        ("resolution-x4@t3", "date 't3'"),
        ("resolution-x4@", "date ''"),
    ],
)
def test_bad_names_are_refused(bad: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(repr(bad))):
        DegradationSetting.parse(bad)
    with pytest.raises(ConfigError, match=message):
        DegradationSetting.parse(bad)


def test_t1_probability_only_for_mixed() -> None:
    with pytest.raises(ConfigError, match="only 'mixed'"):
        DegradationSetting("multi", scale=4, t1_probability=0.5)
    with pytest.raises(ConfigError, match=r"\[0, 1\]"):
        DegradationSetting("mixed", t1_probability=True)


def test_grid_expansion() -> None:
    grid = expand_settings("grid")
    assert [s.name for s in grid] == list(GRID) and len(GRID) == 26
    singles = [f"single-{kind}-s{severity}" for kind in SINGLE_KINDS for severity in (1, 3, 5)]
    assert list(GRID) == [
        "clean",
        "resolution-x2",
        "resolution-x4",
        "resolution-x8",
        *singles,
        "multi-x4",
        "multi-x8",
        "resolution-x4@t1",
        "multi-x4@t1",
    ]
    assert [s.name for s in expand_settings("grid,mixed")] == [*GRID, "mixed"]
    assert [s.name for s in expand_settings("multi-x4,grid")][:2] == ["multi-x4", "clean"]
    assert {s.degraded_date("t2") for s in grid} == {"t1", "t2"}


# ---- the draw ---------------------------------------------------------------------------------


def test_family_and_date_frequencies_follow_the_table() -> None:
    drawn = plans("mixed", 3000)
    families = Counter(plan.drawn.split("-")[0] for plan in drawn)
    for family, probability in tables.MIXED_FAMILY_PROBABILITIES.items():
        assert abs(families[family] / 3000 - probability) < 0.035, (family, families)
    dates = Counter(plan.date for plan in drawn)
    assert abs(dates["t1"] / 3000 - 0.5) < 0.035
    assert Counter(p.date for p in plans("mixed-t1p0.25", 2000))["t1"] / 2000 == pytest.approx(
        0.25, abs=0.035
    )
    assert {p.date for p in plans("mixed-t1p0", 200)} == {"t2"}
    assert {p.date for p in plans("mixed-t1p1", 200)} == {"t1"}


def test_drawn_parameters_lie_in_their_ranges() -> None:
    scales = {"resolution": [], "multi": []}
    singles = set()
    for plan in plans("mixed", 1500):
        family = plan.drawn.split("-")[0]
        names = [op.name for op in plan.ops]
        if family == "clean":
            assert plan.drawn == "clean" and names == []
        elif family == "single":
            _, kind, severity = plan.drawn.split("-")
            severity = int(severity[1:])
            singles.add((kind, severity))
            (op,) = plan.ops
            params = SEVERITY_TABLE[kind][severity]
            assert op.name == kind
            assert all(op.record[key] == value for key, value in params.items())
        else:
            down = plan.ops[names.index("downsample")].record
            scale = down["scale"]
            assert plan.drawn == f"{family}-x{scale:.2f}"
            assert down["size"] == reduced_size(16, 16, scale)
            assert down["antialias"] is (family == "resolution")
            scales[family].append(scale)
            if family == "resolution":
                assert names == ["downsample", "upsample"]
            else:
                assert len(names) == 5
    assert len(singles) == len(SINGLE_KINDS) * 5  # every kind at every severity
    low, high = tables.MIXED_RESOLUTION_SCALE_RANGE
    assert low <= min(scales["resolution"]) < 1.2 and 7 < max(scales["resolution"]) <= high
    low, high = tables.MIXED_MULTI_SCALE_RANGE
    assert low <= min(scales["multi"]) < 2.3 and 7 < max(scales["multi"]) <= high
    assert any(s != round(s) for s in scales["resolution"])  # continuous, not the integer grid


def test_float_scale_size_rule() -> None:
    assert reduced_size(45, 37, 3.17) == [15, 12]
    assert reduced_size(45, 37, 8) == [6, 5]
    assert reduced_size(5, 5, 7.9) == [1, 1]


# ---- determinism and the pair API ---------------------------------------------------------------


def test_mixed_is_deterministic_and_independent_of_the_batch(pairs) -> None:
    t1, t2 = pairs
    out1, out2, records = Degrader("mixed", seed=3).pair(t1, t2, NAMES)
    again1, again2, again_records = Degrader("mixed", seed=3).pair(t1, t2, NAMES)
    assert torch.equal(out1, again1) and torch.equal(out2, again2)
    assert records == again_records
    json.dumps(records)
    assert len({r["drawn"].split("-")[0] for r in records}) >= 3  # a mixed batch indeed
    for i, name in enumerate(NAMES):
        a1, a2, (alone,) = Degrader("mixed", seed=3).pair(t1[i : i + 1], t2[i : i + 1], [name])
        assert torch.equal(a1[0], out1[i]) and torch.equal(a2[0], out2[i]), name
        assert alone == records[i]
    order = [5, 0, 11, 3]
    s1, s2, _ = Degrader("mixed", seed=3).pair(t1[order], t2[order], [NAMES[i] for i in order])
    assert torch.equal(s1, out1[order]) and torch.equal(s2, out2[order])


def test_mixed_records_and_untouched_dates(pairs) -> None:
    t1, t2 = pairs
    out1, out2, records = Degrader("mixed", seed=0).pair(t1, t2, NAMES)
    for i, record in enumerate(records):
        assert set(record) == {"setting", "drawn", "date", "ops"}
        assert record["setting"] == "mixed"
        other = {"t1": (out2, t2), "t2": (out1, t1)}[record["date"]]
        assert torch.equal(other[0][i], other[1][i])  # the other date is never touched
        degraded, source = {"t1": (out1, t1), "t2": (out2, t2)}[record["date"]]
        if record["drawn"] == "clean":
            assert torch.equal(degraded[i], source[i])
        else:
            assert not torch.equal(degraded[i], source[i])


def test_mixed_sub_settings_give_the_pixels_of_the_named_setting(pairs) -> None:
    """A drawn `single-<kind>-s<k>` runs exactly that setting's ops (with the mixed stream)."""
    t1, t2 = pairs
    out1, out2, records = Degrader("mixed", seed=0).pair(t1, t2, NAMES)
    checked = 0
    for i, record in enumerate(records):
        if not record["drawn"].startswith("single-") or record["drawn"].startswith(
            ("single-motion", "single-gaussian_noise", "single-haze")
        ):
            continue  # the random kinds draw their fields from the mixed stream
        source = (t1 if record["date"] == "t1" else t2)[i : i + 1]
        expected, _ = Degrader(record["drawn"])(source)
        assert torch.equal((out1 if record["date"] == "t1" else out2)[i], expected[0])
        checked += 1
    assert checked  # NAMES draw at least one of them under seed 0


def test_mixed_random_mode_draws_fresh_and_follows_the_generator(pairs) -> None:
    t1, t2 = pairs
    degrader = Degrader("mixed")
    *_, first = degrader.pair(t1, t2)
    *_, second = degrader.pair(t1, t2)
    assert first != second
    a1, a2, one = degrader.pair(t1, t2, generator=torch.Generator().manual_seed(4))
    b1, b2, two = degrader.pair(t1, t2, generator=torch.Generator().manual_seed(4))
    assert one == two and torch.equal(a1, b1) and torch.equal(a2, b2)


def test_mixed_needs_both_dates(pairs) -> None:
    with pytest.raises(ConfigError, match=r"Degrader\.pair"):
        Degrader("mixed", seed=0)(pairs[0], NAMES)


def test_levels_round_only_the_degraded_images(pairs) -> None:
    t1, t2 = pairs
    levels = torch.tensor([255.0, 0.0])  # t1 integer-valued, t2 float
    out1, out2, records = Degrader("mixed", seed=1).pair(t1, t2, NAMES, levels=levels)
    for i, record in enumerate(records):
        if record["date"] == "t1" and record["ops"]:
            assert torch.equal(out1[i], torch.round(out1[i] * 255) / 255)
    _, plain2, _ = Degrader("mixed", seed=1).pair(t1, t2, NAMES)
    assert torch.equal(out2, plain2)  # t2's level 0 leaves it as degraded


@pytest.mark.parametrize("name", ["resolution-x4", "multi-x4", "single-haze-s3"])
def test_date_suffix_equals_the_callers_date(pairs, name) -> None:
    t1, t2 = pairs
    dated1, dated2, dated_records = Degrader(f"{name}@t1", seed=2).pair(t1, t2, NAMES)
    plain1, plain2, plain_records = Degrader(name, seed=2).pair(t1, t2, NAMES, date="t1")
    assert torch.equal(dated1, plain1) and torch.equal(dated2, plain2) and dated2 is t2
    assert [r["ops"] for r in dated_records] == [r["ops"] for r in plain_records]
    # the suffix wins over the caller's date
    again1, again2, _ = Degrader(f"{name}@t1", seed=2).pair(t1, t2, NAMES, date="t2")
    assert torch.equal(again1, dated1) and again2 is t2


def test_pair_matches_the_single_date_call_for_fixed_settings(pairs) -> None:
    t1, t2 = pairs
    degraded, records = Degrader("multi-x4", seed=5)(t2, NAMES, levels=255)
    out1, out2, pair_records = Degrader("multi-x4", seed=5).pair(
        t1, t2, NAMES, levels=torch.tensor([255.0, 255.0])
    )
    assert torch.equal(out2, degraded) and out1 is t1 and pair_records == records


def test_degraded_date_of_a_setting() -> None:
    assert DegradationSetting.parse("mixed").degraded_date("t1") == "either"
    assert DegradationSetting.parse("multi-x4@t1").degraded_date("t2") == "t1"
    assert DegradationSetting.parse("multi-x4").degraded_date("t1") == "t1"
