"""The files a newcomer reads first: README, LICENSE, CITATION.cff, CHANGELOG, the docs index,
and the version in one place."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

import hicd

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCS = REPO_ROOT / "docs"
TOP_LEVEL_DOCS = ("README.md", "CHANGELOG.md", "CONTRIBUTING.md")
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def _documents() -> list[Path]:
    return [*(REPO_ROOT / name for name in TOP_LEVEL_DOCS), *sorted(DOCS.glob("*.md"))]


def _prose(text: str) -> str:
    """``text`` without its fenced code blocks (a fence closes only with as many backticks)."""
    kept, fence = [], ""
    for line in text.splitlines():
        ticks = len(line) - len(line.lstrip("`"))
        if not fence and ticks >= 3:
            fence = "`" * ticks
        elif fence and line.strip() == fence:
            fence = ""
        elif not fence:
            kept.append(line)
    return "\n".join(kept)


def test_readme_is_short_and_keeps_the_two_command_quick_start() -> None:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 150
    blocks = [block.splitlines() for block in FENCE.findall(text)]
    quick = [
        block
        for block in blocks
        if any(line.startswith("make demo") for line in block)
        and any(line.startswith("make test") for line in block)
    ]
    assert len(quick) == 1, "one code block holds both `make demo` and `make test`"


def test_licence_is_mit() -> None:
    text = (REPO_ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License")
    assert "Copyright (c)" in text and "hicd developers" in text
    assert "Permission is hereby granted, free of charge" in text
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT"


def test_citation_names_this_version() -> None:
    citation = yaml.safe_load((REPO_ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert str(citation["version"]) == hicd.__version__
    assert citation["license"] == "MIT"
    assert "2401.10752" in str(citation["preferred-citation"])


def test_the_version_is_single_sourced() -> None:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    assert "version" not in pyproject["project"]
    assert "version" in pyproject["project"]["dynamic"]
    dynamic = pyproject["tool"]["setuptools"]["dynamic"]["version"]
    assert dynamic == {"attr": "hicd._version.__version__"}
    changelog = (REPO_ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## [{hicd.__version__}] - " in changelog
    assert "### Breaking changes" in changelog


def test_no_doc_names_an_internal_issue_number() -> None:
    pattern = re.compile(r"\bissue \d+", re.IGNORECASE)
    found = [
        f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}"
        for path in _documents()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert found == []


def test_the_docs_index_lists_every_page() -> None:
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| \[([\w-]+\.md)\]\(", index, re.MULTILINE))
    assert listed == {p.name for p in DOCS.glob("*.md")} - {"index.md"}


def test_relative_links_point_to_existing_files() -> None:
    broken = [
        f"{path.relative_to(REPO_ROOT)}: {target}"
        for path in _documents()
        for target in LINK.findall(_prose(path.read_text(encoding="utf-8")))
        if "://" not in target
        and not target.startswith("mailto:")
        and not (path.parent / target).exists()
    ]
    assert broken == []
