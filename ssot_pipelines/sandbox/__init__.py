"""Local Notion sandbox: a strict Notion-API-compatible HTTP server (API version 2025-09-03).

Used by every test and as the default when no Notion token is configured. State lives in one SQLite
file; control endpoints under ``/__sandbox/`` set faults and rate limits; ``/`` is a read-only HTML view.
"""

from __future__ import annotations

from .faults import FaultConfig
from .launcher import ensure_sandbox
from .server import SandboxServer

__all__ = ["FaultConfig", "SandboxServer", "ensure_sandbox"]
