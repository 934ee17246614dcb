"""Exceptions raised by hicd. Every message names the file or option at fault and what is wrong."""

from __future__ import annotations


class HicdError(Exception):
    """Base class of every error hicd raises on purpose."""


class DataError(HicdError, ValueError):
    """An input file or folder is missing, unreadable or inconsistent."""


class ConfigError(HicdError, ValueError):
    """An option or setting has an invalid value."""
