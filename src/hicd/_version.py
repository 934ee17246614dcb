"""The package version, in one place: read by ``hicd.__version__``, the files hicd writes and
the build (``pyproject.toml``: ``[tool.setuptools.dynamic]``). CHANGELOG.md lists each version."""

__version__ = "0.2.0"
