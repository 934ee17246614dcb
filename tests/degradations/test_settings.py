from __future__ import annotations

import re

import pytest

from hicd.degradations import (
    SCALES,
    SEVERITIES,
    SINGLE_KINDS,
    DegradationSetting,
    expand_settings,
)
from hicd.errors import ConfigError


@pytest.mark.parametrize(
    ("setting", "name"),
    [
        (DegradationSetting("clean"), "clean"),
        (DegradationSetting("resolution", scale=4), "resolution-x4"),
        (DegradationSetting("single", kind="jpeg", severity=3), "single-jpeg-s3"),
        (DegradationSetting("single", kind="low_light", severity=5), "single-low_light-s5"),
        (DegradationSetting("multi", scale=8), "multi-x8"),
    ],
)
def test_name_and_parse_roundtrip(setting: DegradationSetting, name: str) -> None:
    assert setting.name == name
    assert DegradationSetting.parse(name) == setting
    assert str(setting) == name


def test_every_setting_roundtrips() -> None:
    for setting in expand_settings("clean,resolution,single,multi"):
        assert DegradationSetting.parse(setting.name) == setting


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "blurry",
        "resolution-x3",
        "multi-x16",
        "single-fog-s2",
        "single-jpeg-s0",
        "single-jpeg-s6",
        "resolution",
    ],
)
def test_parse_rejects_bad_names_naming_them(bad: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(repr(bad))):
        DegradationSetting.parse(bad)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"setting": "blur"}, "'blur' is not one of"),
        ({"setting": "resolution", "scale": 3}, "scale 3"),
        ({"setting": "multi", "scale": True}, "scale True"),
        ({"setting": "single", "kind": "fog"}, "kind 'fog'"),
        ({"setting": "single", "kind": "jpeg", "severity": 0}, "severity 0"),
        ({"setting": "single", "kind": "jpeg", "severity": 2.0}, "severity 2.0"),
        ({"setting": "clean", "kind": "jpeg"}, "only 'single' takes a kind"),
    ],
)
def test_constructor_validates(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        DegradationSetting(**kwargs)


def test_expand_bare_single_gives_every_kind_and_severity_in_order() -> None:
    settings = expand_settings("single")
    assert len(settings) == len(SINGLE_KINDS) * 5 == 30
    assert [(s.kind, s.severity) for s in settings] == [
        (k, s) for k in SINGLE_KINDS for s in SEVERITIES
    ]


def test_expand_mixed_list_keeps_order_and_drops_repeats() -> None:
    names = [
        s.name
        for s in expand_settings(
            " clean, resolution-x4,resolution-x8,single-jpeg-s2,multi-x4,clean"
        )
    ]
    assert names == ["clean", "resolution-x4", "resolution-x8", "single-jpeg-s2", "multi-x4"]
    full = expand_settings("clean,resolution-x4,resolution-x8,single,multi-x4")
    assert len(full) == 1 + 2 + 30 + 1


def test_expand_families() -> None:
    assert [s.name for s in expand_settings("single-haze")] == [
        f"single-haze-s{i}" for i in SEVERITIES
    ]
    assert [s.scale for s in expand_settings("resolution")] == list(SCALES)
    assert [s.scale for s in expand_settings("multi")] == list(SCALES)


@pytest.mark.parametrize("spec", ["", " , ", "clean,single-fog-s1"])
def test_expand_rejects_bad_specs(spec: str) -> None:
    with pytest.raises(ConfigError):
        expand_settings(spec)
