"""The package version (one place: read by ``hicd.__version__`` and the files hicd writes)."""

__version__ = "0.1.0"
