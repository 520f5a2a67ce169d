"""The bundled model exported for onnxruntime: the same network, its pooling and normalisation, fp32 and int8."""

from __future__ import annotations

from pathlib import Path

import numpy as np

# The same network exported for onnxruntime: token vectors and mask in, the normalized sentence vector out.
# The word-vector table (250k x 384, 384 MB) stays outside the graph as a plain array that is memory-mapped,
# so a new process loads the model in a fraction of a second and touches only the rows it looks up.
ONNX_FILE = "onnx/model.onnx"
WORDS_FILE = "onnx/word_embeddings.npy"
# The same graph with 8-bit weights (per channel): ~1.7x faster, vectors at cosine ~0.997 of the exact ones.
# Used only for int8 builds of large corpora; questions always go through the exact graph.
INT8_FILE = "onnx/model_int8.onnx"


def export(dest: Path) -> None:
    """Export the transformer with mean pooling and normalisation to :data:`ONNX_FILE`, its word
    vectors to :data:`WORDS_FILE`.

    The graph starts after the word-vector lookup (``inputs_embeds``); positions are counted from
    the start of each row, as for right-padded token ids, so the exported vector is the
    sentence-transformers one (cosine ≥ 0.99999), computed by onnxruntime without importing torch.
    """
    import warnings

    import torch
    from transformers import AutoModel

    class SentenceEncoder(torch.nn.Module):
        def __init__(self, transformer: torch.nn.Module) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.transformer(inputs_embeds=inputs_embeds, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    transformer = AutoModel.from_pretrained(dest).eval()
    words = transformer.get_input_embeddings().weight.detach().numpy()
    (dest / ONNX_FILE).parent.mkdir(exist_ok=True)
    np.save(dest / WORDS_FILE, np.ascontiguousarray(words, dtype=np.float32))
    example = (torch.from_numpy(words[[0, 6, 9, 2]]).unsqueeze(0), torch.ones(1, 4, dtype=torch.long))
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's notes about traced control flow
        torch.onnx.export(
            SentenceEncoder(transformer), example, str(dest / ONNX_FILE), dynamo=False, opset_version=17,
            input_names=["inputs_embeds", "attention_mask"], output_names=["sentence_embedding"],
            dynamic_axes={"inputs_embeds": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                          "sentence_embedding": {0: "batch"}},
        )
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    quiet, level = logging.NullHandler(), root.level
    root.addHandler(quiet)  # the quantizer's advice goes to the root logger; keep it off stderr
    root.setLevel(logging.ERROR)
    try:
        quantize_dynamic(dest / ONNX_FILE, dest / INT8_FILE, weight_type=QuantType.QInt8, per_channel=True)
    finally:
        root.removeHandler(quiet)
        root.setLevel(level)
