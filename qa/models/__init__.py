"""Embedding models: the converted default model, its cache, engines that run it, and its calibration."""

from qa.models.cache import DEFAULT_MODEL_NAME as DEFAULT_MODEL
from qa.models.calibration import Calibration, for_model
from qa.models.embedders import Embedder, load_embedder

__all__ = ["DEFAULT_MODEL", "Calibration", "Embedder", "for_model", "load_embedder"]
