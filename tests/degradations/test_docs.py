from __future__ import annotations

from pathlib import Path

from hicd.degradations import SEVERITIES, SEVERITY_TABLE, SINGLE_KINDS, tables

DOC = Path(__file__).resolve().parents[2] / "docs" / "degradations.md"


def _table_rows() -> dict[tuple[str, str], list[float]]:
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 2 + len(SEVERITIES) and cells[0] in SINGLE_KINDS:
            rows[(cells[0], cells[1])] = [float(value) for value in cells[2:]]
    return rows


def test_doc_severity_table_matches_code() -> None:
    expected = {
        (kind, key): [float(SEVERITY_TABLE[kind][s][key]) for s in SEVERITIES]
        for kind in SINGLE_KINDS
        for key in SEVERITY_TABLE[kind][1]
    }
    assert _table_rows() == expected


def test_doc_states_multi_ranges() -> None:
    text = DOC.read_text(encoding="utf-8")
    sizes = tables.MULTI_KERNEL_SIZES
    assert f"{{{sizes[0]}, {sizes[1]}, …, {sizes[-1]}}}" in text
    for low, high in (
        tables.MULTI_SIGMA_RANGE,
        tables.MULTI_NOISE_SIGMA_255,
        tables.MULTI_JPEG_QUALITY,
    ):
        assert f"[{low:g}, {high:g}]" in text or f"[{low}, {high}]" in text
    assert f"[{tables.HAZE_DEPTH_RANGE[0]}, {tables.HAZE_DEPTH_RANGE[1]}]" in text
    assert f"[{tables.HAZE_AIRLIGHT_RANGE[0]}, {tables.HAZE_AIRLIGHT_RANGE[1]}]" in text


def test_doc_states_the_mixed_table() -> None:
    text = DOC.read_text(encoding="utf-8")
    for family, probability in tables.MIXED_FAMILY_PROBABILITIES.items():
        assert f"| {family} | {probability} |" in text, family
    for low, high in (tables.MIXED_RESOLUTION_SCALE_RANGE, tables.MIXED_MULTI_SCALE_RANGE):
        assert f"s in [{low:g}, {high:g}]" in text
    assert f"(default {tables.MIXED_T1_PROBABILITY})" in text
