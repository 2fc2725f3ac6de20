"""A deterministic feature-hashing embedder: words, word pairs and character n-grams into 384 dims."""

from __future__ import annotations

import itertools
import math
import re
import zlib
from collections import defaultdict
from collections.abc import Iterator, Sequence

from ssot_pipelines.vectors.embedder import DIMENSION

_WORD = re.compile(r"[A-Za-z0-9]+")
_CAMEL_PART = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def _words(text: str) -> list[str]:
    words: list[str] = []
    for token in _WORD.findall(text):
        parts = _CAMEL_PART.findall(token)
        # Keeping the whole identifier and its camelCase parts lets `parseConfig` meet `parse config`.
        words.append(token.lower())
        if len(parts) > 1:
            words.extend(part.lower() for part in parts)
    return words


def _features(text: str) -> Iterator[tuple[str, float]]:
    words = _words(text)
    for word in words:
        yield "w:" + word, 1.0
    for first, second in itertools.pairwise(words):
        yield "b:" + first + " " + second, 0.7
    for word in set(words):
        padded = f"<{word}>"
        for n in (3, 4):
            for i in range(len(padded) - n + 1):
                yield "c:" + padded[i : i + n], 0.25


class HashingEmbedder:
    """Signed feature hashing (crc32) with sublinear term frequency, L2-normalised.

    No model and no state: the same text gives the same vector in every process and on every machine,
    so it suits tests and exact or near-duplicate retrieval. It knows nothing of synonyms.
    """

    name = "hashing-v1"
    dimension = DIMENSION

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit vector per text (the zero vector for a text with no words)."""
        return [self._embed_one(text) for text in texts]

    def _embed_one(self, text: str) -> list[float]:
        weights: defaultdict[str, float] = defaultdict(float)
        for feature, weight in _features(text):
            weights[feature] += weight
        vector = [0.0] * self.dimension
        for feature, weight in weights.items():
            code = zlib.crc32(feature.encode("utf-8"))
            # The sign bit comes from a different part of the hash than the bucket, so collisions cancel
            # on average instead of piling up.
            sign = 1.0 if code & 0x8000_0000 else -1.0
            vector[(code & 0x7FFF_FFFF) % self.dimension] += sign * math.log1p(weight)
        norm = math.sqrt(sum(x * x for x in vector))
        return [x / norm for x in vector] if norm else vector
