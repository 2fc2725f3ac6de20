"""``ssot-hook``: the Claude Code (and Codex) hook that makes each event durable, then gets out of the way.

Contract with the assistant: read the bytes on stdin, append them to the local journal with fsync, print
nothing (except the bridged context on SessionStart after a compaction, resume, /clear or fork) and
exit 0, whatever happens: a logger hook must never block or break the session. Every field of the input
may hold lone surrogates, NUL or bytes that are not UTF-8: the journal keeps the input byte for byte,
and what is printed is always valid UTF-8 JSON. Only the stdlib is imported on this path. The bridged
context comes from the ledger when ``POSTGRES_URL`` (or ``SSOT_HOOK_POSTGRES_URL``) is set and answers
within 2 s, else from the local journal's tail.
"""

from __future__ import annotations

import os
import sys

from ssot_pipelines.sessions import journal

BRIDGE_SOURCES = ("compact", "resume", "clear", "fork")
BRIDGE_BUDGET_SECONDS = 2.0
MAX_CONTEXT_CHARS = 10_000  # Claude Code's cap on additionalContext


def main(argv: list[str] | None = None) -> int:
    """Journal one hook event; always returns 0 (and never raises: the installed command exits 0)."""
    try:
        return _run(sys.argv[1:] if argv is None else argv)
    except BaseException as exc:  # a logger hook must never break the session, whatever happened
        _warn(f"ssot-hook: unexpected {type(exc).__name__}; the event may not be journaled\n")
        return 0


def _warn(text: str) -> None:
    try:
        sys.stderr.write(text)
    except (OSError, ValueError, AttributeError):  # stderr closed or absent: nothing else to tell
        return


def _run(args: list[str]) -> int:
    tool = "codex" if "--tool=codex" in args or ("--tool" in args and "codex" in args) else "claude-code"
    try:
        if sys.stdin is None or sys.stdin.isatty():
            sys.stderr.write("ssot-hook reads one hook event as JSON on stdin; see `ssot hooks print`.\n")
            return 0
        data = sys.stdin.buffer.read()
    except (OSError, ValueError):
        return 0
    try:
        journal.append(journal.encode_record(data, tool=tool))
    except OSError as exc:
        # Still exit 0: a broken logger must not break the session. stderr reaches the user's debug log.
        sys.stderr.write(
            f"ssot-hook: could not write the journal in {journal.journal_dir()} ({exc}); "
            "set SSOT_HOME or SSOT_JOURNAL_DIR to a writable directory\n"
        )
    if data[:1] == b"{" and b"SessionStart" in data and os.environ.get("SSOT_HOOK_BRIDGE", "1") != "0":
        _print_bridge(data)
    return 0


def _print_bridge(data: bytes) -> None:
    import json

    try:
        # Bytes that are not UTF-8 become U+FFFD here: this is only for reading, the journal has the bytes.
        event = json.loads(data.decode("utf-8", "replace"))
    except (ValueError, RecursionError):
        return
    if not isinstance(event, dict) or event.get("hook_event_name") != "SessionStart":
        return
    if event.get("source") not in BRIDGE_SOURCES:
        return
    text = ""
    if os.environ.get("SSOT_HOOK_POSTGRES_URL") or os.environ.get("POSTGRES_URL"):
        try:
            if sys.flags.no_site:  # started with -S for speed: psycopg lives in site-packages
                import site

                site.main()
            from ssot_pipelines.sessions.bridge import hook_context

            text = hook_context(event, budget_seconds=BRIDGE_BUDGET_SECONDS)
        except Exception:  # the ledger may be down: fall back to the journal
            text = ""
    if not text:
        try:
            from ssot_pipelines.sessions.journal_context import journal_context

            text = journal_context(event, journal.journal_dir())
        except Exception:  # never break the session for a nicety
            return
    if text:
        out = {
            "hookSpecificOutput": {
                "hookEventName": "SessionStart",
                "additionalContext": valid_text(text[:MAX_CONTEXT_CHARS]),
            }
        }
        try:
            sys.stdout.buffer.write(json.dumps(out, ensure_ascii=False).encode("utf-8"))
            sys.stdout.flush()
        except (OSError, ValueError):  # the assistant closed the pipe: the event is journaled anyway
            return


def valid_text(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD, so that it encodes as UTF-8.

    A pair of surrogates escaped separately in JSON (``\\ud83d\\ude00``) is joined by ``json`` already; what is
    left is a lone half, which no UTF-8 reader accepts.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        import re

        return re.sub("[\ud800-\udfff]", "\ufffd", text)
    return text


if __name__ == "__main__":
    sys.exit(main())
