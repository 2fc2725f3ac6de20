"""Notion's request size limits, checked before anything is written."""

from __future__ import annotations

import json
from typing import Any

from .errors import ApiError, body_validation

MAX_TEXT = 2000
MAX_URL = 2000
MAX_EMAIL_PHONE = 200
MAX_ARRAY = 100
MAX_BLOCKS_PER_REQUEST = 1000
MAX_BODY_BYTES = 500 * 1000
MAX_PAGE_SIZE = 100


def js_length(text: str) -> int:
    """String length as JavaScript counts it (UTF-16 code units), which is what Notion limits."""
    return len(text.encode("utf-16-le")) // 2


def check_text(path: str, value: Any, limit: int = MAX_TEXT) -> str:
    if not isinstance(value, str):
        raise body_validation(path, f"should be a string, instead was `{json.dumps(value)}`")
    n = js_length(value)
    if n > limit:
        raise body_validation(f"{path}.length", f"should be ≤ {limit}, instead was {n}")
    return value


def check_array(path: str, value: Any, limit: int = MAX_ARRAY) -> list[Any]:
    if not isinstance(value, list):
        raise body_validation(path, f"should be an array, instead was `{json.dumps(value)[:100]}`")
    if len(value) > limit:
        raise body_validation(f"{path}.length", f"should be ≤ {limit}, instead was {len(value)}")
    return value


def check_object(path: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise body_validation(path, f"should be an object, instead was `{json.dumps(value)[:100]}`")
    return value


def check_page_size(path: str, value: Any) -> int:
    if value is None:
        return MAX_PAGE_SIZE
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise body_validation(path, f"should be a number, instead was `{json.dumps(value)}`")
    if value < 1 or value > MAX_PAGE_SIZE:
        raise body_validation(path, f"should be ≤ {MAX_PAGE_SIZE} and ≥ 1, instead was {value}")
    return value


def check_body_size(n_bytes: int) -> None:
    if n_bytes > MAX_BODY_BYTES:
        raise ApiError(
            413,
            "validation_error",
            f"Request body too large: {n_bytes} bytes exceeds the limit of {MAX_BODY_BYTES} bytes.",
        )


def reject_unknown_keys(path: str, body: dict[str, Any], allowed: set[str]) -> None:
    for key in body:
        if key not in allowed:
            raise body_validation(f"{path}.{key}", "should be not present")
