"""An approximate index for the embedded store's large corpora: FAISS IVF over unit vectors by inner product."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

# Vectors are grouped in about sqrt(n) lists; a search reads the 1/PROBED of them nearest the question.
PROBED = 4


def build(matrix: np.ndarray):
    """An inverted-file index of unit vectors by inner product: about sqrt(n) lists, trained on a sample."""
    import faiss

    lists = max(16, round(np.sqrt(len(matrix))))
    quantizer = faiss.IndexFlatIP(matrix.shape[1])
    index = faiss.IndexIVFFlat(quantizer, matrix.shape[1], lists, faiss.METRIC_INNER_PRODUCT)
    index.cp.niter, index.cp.max_points_per_centroid = 10, 64  # k-means on 64 vectors a list: enough, and fast
    index.train(matrix)
    index.add(matrix)
    index.nprobe = max(1, lists // PROBED)
    return index


def saved(path: Path, size: int):
    """The IVF index saved at ``path``, memory-mapped, if it is readable and holds ``size`` vectors."""
    import faiss

    if not path.is_file():
        return None
    try:
        index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
    except RuntimeError:
        return None
    if index.ntotal != size:
        return None
    index.nprobe = max(1, index.nlist // PROBED)
    return index


def save(index, path: Path) -> None:
    """Write an index to ``path`` whole or not at all; a folder that cannot be written is left alone (a read-only
    corpus still answers, and builds the index again next time)."""
    import faiss

    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        faiss.write_index(index, str(tmp))
        os.replace(tmp, path)
    except (OSError, RuntimeError):
        tmp.unlink(missing_ok=True)
