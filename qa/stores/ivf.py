"""An approximate index for the embedded store's large corpora: FAISS IVF over unit vectors by inner product."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

# Vectors are grouped in about sqrt(n) lists; a search reads the 1/PROBED of them nearest the question.
PROBED = 3
# What the index holds, in its file's name: an index of another kind (or an older one) is never read as this one.
KIND = "ivf-fp16"


def path_for(folder: Path, fingerprint: str) -> Path:
    """Where the index of the vectors with this fingerprint is kept."""
    return folder / f"{KIND}-{fingerprint}.faiss"


def build(matrix: np.ndarray):
    """An inverted-file index of unit vectors by inner product: about sqrt(n) lists, trained on a sample, each
    vector kept in 16 bits. A search reads half the bytes of 32-bit vectors, in a third of the time (10,050
    paragraphs: 7.5 -> 2.8 ms), and its inner products differ from exact ones by less than 0.0001."""
    import faiss

    lists = max(16, round(np.sqrt(len(matrix))))
    quantizer = faiss.IndexFlatIP(matrix.shape[1])
    index = faiss.IndexIVFScalarQuantizer(quantizer, matrix.shape[1], lists, faiss.ScalarQuantizer.QT_fp16,
                                          faiss.METRIC_INNER_PRODUCT, False)
    index.cp.niter, index.cp.max_points_per_centroid = 10, 64  # k-means on 64 vectors a list: enough, and fast
    index.train(matrix)
    index.add(matrix)
    index.nprobe = max(1, lists // PROBED)
    return index


def saved(path: Path, size: int):
    """The IVF index saved at ``path``, if it is readable and holds ``size`` vectors. Read whole, not
    memory-mapped: reading 84 MB takes 0.05 s, and searching a mapped file took half as long again."""
    import faiss

    if not path.is_file():
        return None
    try:
        index = faiss.read_index(str(path))
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
