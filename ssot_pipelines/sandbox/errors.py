"""Notion's error envelope, raised anywhere in the sandbox and rendered by the HTTP layer."""

from __future__ import annotations

from typing import Any

NOT_SHARED = "Make sure the relevant pages and databases are shared with your integration."


class ApiError(Exception):
    """An error response: HTTP status, Notion error code, message and optional ``additional_data``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        additional_data: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.additional_data = additional_data
        self.headers = headers or {}

    def body(self, request_id: str) -> dict[str, Any]:
        out: dict[str, Any] = {"object": "error", "status": self.status, "code": self.code, "message": self.message}
        if self.additional_data is not None:
            out["additional_data"] = self.additional_data
        out["request_id"] = request_id
        return out


def validation(message: str) -> ApiError:
    return ApiError(400, "validation_error", message)


def body_validation(path: str, problem: str) -> ApiError:
    """The message format Notion uses for schema-level body checks."""
    return validation(f"body failed validation: {path} {problem}.")


def not_found(kind: str, object_id: str) -> ApiError:
    return ApiError(404, "object_not_found", f"Could not find {kind} with ID: {object_id}. {NOT_SHARED}")
