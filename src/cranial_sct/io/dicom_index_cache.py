"""A per-folder cache of what ``dicom_index`` read from each file, so a second scan reads no file.

A folder of thousands of DICOM files is indexed again every time a user runs ``info`` or ``predict``
on it. The few header values the index needs are kept per file with the file's size and
modification time (nanoseconds); a file whose size or time changed, or that is new, is read again,
and vanished files are dropped. The cache only groups files into series: the chosen series' headers
and pixels are always read from the files themselves, so a stale entry can never change a grid.

Where: one JSON file per folder (named by a hash of its absolute path) under
``$CRANIAL_SCT_CACHE``, else ``$XDG_CACHE_HOME/cranial-sct``, else ``~/.cache/cranial-sct``; never in
the input folder, which may be read-only or shared. ``CRANIAL_SCT_CACHE=off`` turns it off. A cache
that cannot be written (read-only home) or read back (damaged) is skipped: the scan works without it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from cranial_sct.io.atomic import atomic_path

log = logging.getLogger(__name__)
CACHE_ENV = "CRANIAL_SCT_CACHE"
FORMAT = "cranial-sct-dicom-index/1"


def cache_root() -> Path | None:
    """The cache folder, or None when the user turned caching off."""
    chosen = os.environ.get(CACHE_ENV)
    if chosen is not None:
        return None if chosen.strip().lower() in ("", "off", "0", "no") else Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cranial-sct"


def cache_file(folder: Path) -> Path | None:
    root = cache_root()
    if root is None:
        return None
    key = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:32]
    return root / "dicom-index" / f"{key}.json"


def cached_read(folder: Path, files: Sequence[Path], read: Callable[[list[Path]], list[Any]]) -> list[Any]:
    """``read(files)`` (one JSON-friendly value per file), taking unchanged files' values from the cache."""
    path = cache_file(folder)
    stored = _load(path, folder) if path is not None else {}
    names = [str(file.relative_to(folder)) for file in files]
    stamps = [_stamp(file) for file in files]
    values: list[Any] = [None] * len(files)
    todo = []
    for k, (name, stamp) in enumerate(zip(names, stamps, strict=True)):
        entry = stored.get(name)
        if stamp is not None and isinstance(entry, list) and len(entry) == 3 and entry[:2] == stamp:
            values[k] = entry[2]
        else:
            todo.append(k)
    for k, value in zip(todo, read([files[k] for k in todo]), strict=True):
        values[k] = value
    if path is not None and (todo or len(stored) != len(files)):
        entries = {name: [*stamp, value] for name, stamp, value in zip(names, stamps, values, strict=True) if stamp is not None}
        _save(path, folder, entries)
    return values


def _stamp(file: Path) -> list[int] | None:
    try:
        info = file.stat()
    except OSError:
        return None
    return [info.st_size, info.st_mtime_ns]


def _load(path: Path, folder: Path) -> dict[str, list[Any]]:
    try:
        content = json.loads(path.read_text())
        if content.get("format") == FORMAT and content.get("folder") == str(folder.resolve()):
            return dict(content["files"])
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        pass
    return {}


def _save(path: Path, folder: Path, entries: dict[str, list[Any]]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps({"format": FORMAT, "folder": str(folder.resolve()), "files": entries}))
    except OSError as error:
        log.debug("DICOM index cache not written (%s): %s", path, error)
