"""Files and folders written whole: atomic JSON, checksums, folder swaps, and whether a writer still runs."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any


def sha256_file(path: Path) -> str:
    """The sha256 of a file's bytes, read in blocks."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def write_json(path: Path, data: Any, indent: int | None = None) -> None:
    """Write JSON so a reader sees the old file or the new one, never half of it (a rename into place)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=indent), encoding="utf-8")
    os.replace(tmp, path)


def write_bytes(path: Path, data: bytes) -> None:
    """Write bytes so a reader sees the old file or the new one (a rename into place)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def swap_in(new: Path, dest: Path) -> None:
    """Replace ``dest`` by ``new`` with renames; a reader sees the old or the new folder, whole.

    An existing ``dest`` is renamed aside to ``.old-<name>-<pid>`` first, then deleted.
    """
    old = dest.parent / f".old-{dest.name}-{os.getpid()}"
    if dest.exists():
        os.rename(dest, old)
    os.rename(new, dest)
    shutil.rmtree(old, ignore_errors=True)


def alive(pid: int) -> bool:
    """Whether a process with this id exists (a leftover folder's writer may still be working)."""
    try:
        os.kill(pid, 0)  # signal 0: only checks that the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True
