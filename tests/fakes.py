"""A deterministic fake embedder: the real pipeline runs around it, fast, for storage, corpus and fault tests."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from qa.models.calibration import MEASURED, Calibration

# The fake's vectors mean little: its calibration lets everything past the confidence and margin bars, so tests
# with it exercise storage, structure and the decisions that do not depend on the model's cosines.
FAKE_CALIBRATION = Calibration(model="fake-embedder", threshold_zh=-1.0, threshold_en=-1.0, margin_zh=-2.0,
                               margin_en=-2.0)
MEASURED.setdefault("fake-embedder", FAKE_CALIBRATION)


class FakeEmbedder:
    """Bag-of-characters vectors: texts sharing characters are close, identical texts are identical.

    Args:
        name: The model name the corpus records (change it to test a model change).
        dim: Vector dimension.
    """

    def __init__(self, name: str = "fake-embedder", dim: int = 64) -> None:
        self.name = name
        self._dim = dim
        self.calls = 0
        self.embedded = 0

    @property
    def dim(self) -> int:
        return self._dim

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self._dim, np.float32)
        for ch in text:
            vector[int.from_bytes(hashlib.blake2b(ch.encode(), digest_size=4).digest(), "little") % self._dim] += 1
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm else vector

    def queries(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        return np.stack([self._vector(t) for t in texts]) if texts else np.empty((0, self._dim), np.float32)

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded += len(texts)
        return self.queries(texts)
