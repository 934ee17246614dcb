"""Exceptions raised by hicd. Every message names the file or option at fault and what is wrong."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class HicdError(Exception):
    """Base class of every error hicd raises on purpose."""


class DataError(HicdError, ValueError):
    """An input file or folder is missing, unreadable or inconsistent."""


class ConfigError(HicdError, ValueError):
    """An option or setting has an invalid value."""


def cwd_note(path: str | Path) -> str:
    """For messages about a missing ``path``: where a relative path was looked for."""
    if Path(path).is_absolute():
        return ""
    return f" (relative paths are taken from the current folder, {Path.cwd()})"


def check_choice(
    value: T, choices: Collection[T], option: str, error: type[HicdError] = ConfigError
) -> T:
    """``value`` if it is one of ``choices``, else ``error`` naming ``option`` and the choices."""
    if value not in choices:
        raise error(f"{option}: {value!r} is not one of {', '.join(map(str, choices))}")
    return value
