"""Decision bars measured on one model's cosines: kept with the model and written into each index it builds."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from qa.models.cache import DEFAULT_MODEL_NAME


@dataclass(frozen=True)
class Calibration:
    """The bars that decide whether a document answers a question, on one model's score scale.

    Confidence = best sentence cosine + ``coverage_weight`` × lexical coverage + ``peak_weight`` × how far the
    best paragraph stands out (z-score). A question is answered when its confidence reaches the threshold
    of its language, and it is closer to the documents than to everyday background text by the margin.
    Measure another model's values with ``qa eval --calibrate`` (tuning half of the question set).

    Args:
        model: The model the values were measured on.
        calibrated: False for a model nobody measured: the default model's values are used as a guess.
    """

    model: str = DEFAULT_MODEL_NAME
    threshold_zh: float = 0.8825
    threshold_en: float = 0.77
    margin_zh: float = 0.0
    margin_en: float = -0.02
    coverage_weight: float = 0.1
    peak_weight: float = 0.01
    calibrated: bool = True

    def __post_init__(self) -> None:
        for name, value in dataclasses.asdict(self).items():
            if name not in ("model", "calibrated") and not isinstance(value, int | float):
                raise ValueError(f"calibration value {name} must be a number, not {value!r}")

    def threshold(self, english: bool) -> float:
        """The confidence a question needs, by whether it is asked in a Latin script."""
        return self.threshold_en if english else self.threshold_zh

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        """Values saved by :meth:`to_dict`; unknown keys are ignored, missing ones take the defaults.

        Raises:
            ValueError: A value is not a number.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


# Measured on the tuning half of tests/data/questions.jsonl with `qa eval` (see the README's evaluation).
MEASURED = {DEFAULT_MODEL_NAME: Calibration()}


def for_model(name: str) -> Calibration:
    """The calibration measured for a model, or the default model's values marked as not calibrated."""
    return MEASURED.get(name) or dataclasses.replace(Calibration(), model=name, calibrated=False)
