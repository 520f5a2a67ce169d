"""Folders written whole: swap a finished folder into place, and tell whether its writer still runs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


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
