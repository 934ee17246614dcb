"""Atomic file and folder writes: outputs appear whole or not at all, with the umask's mode."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from hicd.errors import ConfigError

_UMASK_LOCK = threading.Lock()
INTERRUPT_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def current_umask() -> int:
    """The process umask, read without changing it where the system allows (Linux)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:  # os.umask can only be read by setting it
        umask = os.umask(0o077)
        os.umask(umask)
    return umask


def apply_umask(path: Path, folder: bool = False) -> None:
    """Give ``path`` the mode a plain ``open``/``mkdir`` would: 0o666 (0o777) less the umask.

    ``tempfile.mkstemp``/``mkdtemp`` create private 0600/0700 entries, which would otherwise
    survive the rename onto the final name.
    """
    os.chmod(path, (0o777 if folder else 0o666) & ~current_umask())


def same_file(first: str | Path, second: str | Path) -> bool:
    """Whether two paths name one file: the same resolved path, or the same inode (hard links,
    bind mounts)."""
    first, second = Path(first), Path(second)
    try:
        if first.resolve() == second.resolve():
            return True
        return os.path.samefile(first, second)
    except (OSError, RuntimeError):  # one of them does not exist, or a symlink loop
        return False


def refuse_input_clobbering(
    outputs: Sequence[tuple[str, str | Path]], inputs: Sequence[str | Path]
) -> None:
    """The output-path policy's first rule: no output may be the same file as an input.

    ``outputs``: (option, path) pairs, e.g. ``("--vector", "x.geojson")``; ``inputs``: every
    file the command reads (images, label, checkpoint, config, cached graph). ConfigError
    naming the option and both files otherwise.
    """
    for option, path in outputs:
        for source in inputs:
            if same_file(path, source):
                raise ConfigError(
                    f"{option} {path}: is the input {source}; an output never replaces an "
                    "input, give another path"
                )


def refuse_shared_outputs(outputs: Sequence[tuple[str, str | Path]]) -> None:
    """ConfigError when two of the (option, path) ``outputs`` name one file."""
    for index, (option, path) in enumerate(outputs):
        for other_option, other in outputs[index + 1 :]:
            if same_file(path, other):
                raise ConfigError(f"{option} and {other_option}: both write {path}; give two paths")


def check_suffix(path: str | Path, option: str, suffixes: Sequence[str], what: str) -> None:
    """The output-path policy's second rule: an output's format follows its extension, so an
    extension outside ``suffixes`` (lower case, with the dot) is refused with the allowed list."""
    if Path(path).suffix.lower() not in suffixes:
        raise ConfigError(
            f"{option} {path}: {what} must end in {' or '.join(suffixes)} (the format follows "
            "the extension)"
        )


def check_parent(path: str | Path, option: str) -> None:
    """ConfigError when the output ``path`` cannot be created: its nearest existing ancestor is
    a file, or a folder this process cannot write in."""
    parent = Path(path).absolute().parent
    for folder in (parent, *parent.parents):
        if folder.exists():
            if not folder.is_dir():
                raise ConfigError(f"{option} {path}: cannot be created, {folder} is not a folder")
            if not os.access(folder, os.W_OK | os.X_OK):
                raise ConfigError(f"{option} {path}: cannot be created, {folder} is not writable")
            return


def refuse_existing(path: str | Path, overwrite: bool, what: str = "--out") -> None:
    """ConfigError when the file ``path`` exists and ``overwrite`` is not given, or is a folder."""
    path = Path(path)
    check_parent(path, what)
    if path.is_dir():
        raise ConfigError(f"{path}: {what} is a folder; give a file path")
    if not overwrite and (path.exists() or path.is_symlink()):
        raise ConfigError(
            f"{path}: {what} exists; give --overwrite (overwrite=True in Python) to replace it"
        )


def require_folder(path: str | Path, option: str = "--out") -> None:
    """ConfigError when ``path`` exists and is not a folder."""
    path = Path(path)
    if (path.exists() or path.is_symlink()) and not path.is_dir():
        raise ConfigError(f"{option} {path}: exists and is not a folder")


def refuse_non_empty(
    path: str | Path, overwrite: bool, option: str = "--out", hint: str = ""
) -> None:
    """ConfigError when ``path`` is not a folder, or is a non-empty one and not ``overwrite``
    (``hint`` ends the message)."""
    path = Path(path)
    require_folder(path, option)
    check_parent(path, option)
    if not overwrite and path.is_dir() and any(path.iterdir()):
        raise ConfigError(
            f"{option} {path}: folder is not empty; give --overwrite (overwrite=True in Python) "
            f"to replace it{hint}"
        )


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM until the block ends, so that a few renames happen all or none.

    Only the main thread receives Python signal handlers; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {}
    for signum in INTERRUPT_SIGNALS:
        handler = signal.getsignal(signum)
        if handler is not None:  # None: installed outside Python, left alone
            previous[signum] = signal.signal(signum, lambda number, _: received.append(number))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum in dict.fromkeys(received):
            signal.raise_signal(signum)


def _temporary_file(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(handle)
    return Path(name)


@contextmanager
def atomic_paths(*paths: str | Path) -> Iterator[list[Path]]:
    """Yield one temporary path beside each of ``paths``; on success all are renamed into place.

    The renames happen together with interruptions held back, so either every output appears
    or none. On any error (or interruption) the temporary files are removed and ``paths`` are
    untouched. Files get the mode the umask gives (not mkstemp's 0600).
    """
    targets = [Path(path) for path in paths]
    temporary: list[Path] = []
    try:
        for path in targets:
            temporary.append(_temporary_file(path))
        yield list(temporary)
        for tmp in temporary:
            apply_umask(tmp)
        with interrupts_deferred():
            for tmp, path in zip(temporary, targets, strict=True):
                os.replace(tmp, path)
    finally:
        for tmp in temporary:
            tmp.unlink(missing_ok=True)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path``.

    On any error (or interruption) the temporary file is removed and ``path`` is untouched.
    """
    with atomic_paths(path) as (tmp,):
        yield tmp


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


@contextmanager
def atomic_directory(path: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``path``; on success it replaces ``path``.

    A non-empty ``path`` is refused unless ``overwrite``. After an error or interruption the
    temporary folder is removed and ``path`` keeps its previous content.
    """
    path = Path(path)
    refuse_non_empty(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent))
    try:
        yield tmp
        apply_umask(tmp, folder=True)
        old = path.with_name(f".{path.name}.old-{os.getpid()}")
        # interruptions wait, so that path always holds the old or the new content
        with interrupts_deferred():
            replacing = path.exists()
            if replacing:
                os.replace(path, old)
            try:
                os.replace(tmp, path)
            except BaseException:
                if replacing:
                    os.replace(old, path)
                raise
            if replacing:
                shutil.rmtree(old)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
