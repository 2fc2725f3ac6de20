"""What each capability hands to search: a document found, with its context, and how to reach it in Notion."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

KINDS = ("sessions", "slack", "files", "tech_debt", "tasks")
CONTEXT = 5  # paragraphs, messages or entries either side of what matched
_WORD = re.compile(r"\w+", re.UNICODE)
_PATH = re.compile(r"\w[\w./-]*[/.][\w./-]*\w", re.UNICODE)  # only word characters, '.', '/', '-': no quotes
MAX_TERMS = 32


def or_tsquery(query: str) -> str:
    """A ``to_tsquery`` text matching any word of ``query`` (ranking rewards matching more of them).

    A question in plain words rarely has every word in the passage that answers it, so AND would miss it.
    Only word characters reach the query, so it can never be a tsquery syntax error; '' when there are none.
    """
    words = list(dict.fromkeys(w.lower() for w in _WORD.findall(query)))[:MAX_TERMS]
    # PostgreSQL's parser keeps a path or file name (docs/tasks.md) as one lexeme: ask for it whole as well.
    paths = [f"'{p}'" for p in dict.fromkeys(_PATH.findall(query))][:MAX_TERMS]
    return " | ".join(words + paths)


@dataclass
class Doc:
    """One searchable unit of a capability, described for a reader.

    ``ref`` identifies it within its kind (a chunk id, a file key, an issue id, a task id); ``database`` and
    ``notion_key`` name its row in Notion; ``before``/``matched``/``after`` are full texts, never cut.
    """

    kind: str
    ref: str
    title: str
    database: str
    notion_key: str
    matched: list[str]
    before: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)


@dataclass
class Hit:
    doc: Doc
    score: float
    reasons: list[str]
    notion_url: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self.doc)
        out.update(score=round(self.score, 6), reasons=self.reasons, notion_url=self.notion_url)
        return out

    def as_text(self) -> str:
        lines = [
            f"## [{self.doc.kind}] {self.doc.title}",
            f"{self.notion_url or '(not in Notion yet)'} · {', '.join(self.reasons)}",
            "",
        ]
        lines += [f"> {p}\n" for p in self.doc.before]
        lines += [f"{p}\n" for p in self.doc.matched]
        lines += [f"> {p}\n" for p in self.doc.after]
        return "\n".join(lines)
