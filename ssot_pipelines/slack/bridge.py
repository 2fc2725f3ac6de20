"""The bridge between Slack conversations and CLI sessions: links found from stored evidence, and the
text each side shows of the other.

Evidence, each kind stored with the link (``slack_session_links``) and shown on the Notion page:

- ``session-mentioned`` / ``transcript-mentioned``: a session id, or a transcript path, written in Slack;
- ``permalink-mentioned`` / ``channel-mentioned``: a Slack permalink, or a channel, written in a session
  (a channel links the channel's conversations that ran while the session did);
- ``same-person``: a Slack user mapped (``SLACK_USER_MAP``) to the CLI user who ran the session wrote in
  the conversation while the session ran;
- ``similar``: a conversation chunk's vector is within ``SLACK_BRIDGE_SIMILARITY`` of a session chunk's;
- ``shared``: the session's handover pack was posted to the conversation by ``ssot slack share``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ssot_pipelines.settings import ConfigurationError, env
from ssot_pipelines.slack import sessions_view, store
from ssot_pipelines.slack.model import Message, thread_conversation_id, ts_datetime
from ssot_pipelines.slack.render import Directory, message_paragraph, render_text, speaker, when
from ssot_pipelines.slack.store import Connection

SIMILARITY_DEFAULT = 0.8
OVERLAP_SLACK = timedelta(minutes=15)  # a message this close to a session's start or end counts as during it
CONTEXT_MESSAGES = 5
SESSIONS_NAMESPACE = "cli_sessions"  # where the sessions package indexes transcript chunks
SESSION_CHUNKS_LOOKED_AT = 256  # chunk numbers fetched from a session's latest segment (the last 8 are used)

_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
_TRANSCRIPT = re.compile(r"(?:~|\.{0,2}/)[^\s<>|'\"`]*?\.jsonl\b")
_PERMALINK = re.compile(
    r"https?://[\w.-]*slack\.com/archives/([A-Z0-9]{6,})(?:/p(\d{16}))?(?:\?[^\s\"'<>\\]*?thread_ts=(\d+\.\d+))?"
)
_CHANNEL = re.compile(r"(?<![\w#&/])#([a-z0-9][a-z0-9._-]{1,79})\b")


@dataclass
class BridgeReport:
    conversations: int = 0
    sessions: int = 0
    links: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str) -> None:
        self.links[kind] = self.links.get(kind, 0) + 1

    def summary(self) -> str:
        found = ", ".join(f"{n} {k}" for k, n in sorted(self.links.items())) or "no new links"
        return f"bridge: {self.conversations} conversations and {self.sessions} sessions looked at; {found}"


def user_map() -> dict[str, set[str]]:
    """``SLACK_USER_MAP``: ``U012AB3CD=alice,U02EF=bob|bob.smith`` (Slack user id = CLI/git user names)."""
    raw = env("SLACK_USER_MAP") or ""
    out: dict[str, set[str]] = {}
    for item in filter(None, (p.strip() for p in raw.split(","))):
        slack_id, sep, names = item.partition("=")
        if not sep or not slack_id.strip() or not names.strip():
            raise ConfigurationError(f"SLACK_USER_MAP entry {item!r} is not USERID=cli_user (e.g. U012AB3CD=alice)")
        out.setdefault(slack_id.strip(), set()).update(n.strip() for n in names.split("|") if n.strip())
    return out


def similarity_threshold() -> float:
    raw = env("SLACK_BRIDGE_SIMILARITY", str(SIMILARITY_DEFAULT)) or str(SIMILARITY_DEFAULT)
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"SLACK_BRIDGE_SIMILARITY={raw!r} is not a number between 0 and 1") from None
    if not 0 < value <= 1:
        raise ConfigurationError(f"SLACK_BRIDGE_SIMILARITY={raw!r} must be between 0 and 1")
    return value


def add_link(
    conn: Connection,
    conversation_id: str,
    session_id: str,
    kind: str,
    evidence: str,
    *,
    anchor_ts: str | None = None,
    score: float | None = None,
) -> bool:
    """Store a link with its evidence (the first evidence per kind is kept); True when it is new."""
    cur = conn.execute(
        "INSERT INTO slack_session_links (conversation_id, session_id, kind, evidence, anchor_ts, score)"
        " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
        (conversation_id, session_id, kind, evidence, anchor_ts, score),
    )
    if cur.rowcount:
        store.touch_conversations(conn, [conversation_id])  # its Notion row shows the new relation
    return bool(cur.rowcount)


def links_of_conversation(conn: Connection, conversation_id: str) -> list[dict[str, Any]]:
    return [
        dict(r)
        for r in conn.execute(
            "SELECT * FROM slack_session_links WHERE conversation_id = %s ORDER BY session_id, kind", (conversation_id,)
        ).fetchall()
    ]


def links_of_session(conn: Connection, session_id: str) -> list[dict[str, Any]]:
    return [
        dict(r)
        for r in conn.execute(
            "SELECT * FROM slack_session_links WHERE session_id = %s ORDER BY created_at, conversation_id, kind",
            (session_id,),
        ).fetchall()
    ]


# -- finding links ------------------------------------------------------------------------------------


def find_links(
    conn: Connection,
    *,
    vectors: Any = None,
    embedder: Any = None,
    people: dict[str, set[str]] | None = None,
    threshold: float | None = None,
) -> BridgeReport:
    """Look for links from the conversations and the sessions that changed since they were last looked at."""
    report = BridgeReport()
    people = user_map() if people is None else people
    threshold = similarity_threshold() if threshold is None else threshold
    directory = store.directory(conn)
    all_sessions: list[sessions_view.SessionInfo] = []  # read once, and only when a user map is configured
    pending = conn.execute(
        "SELECT conversation_id FROM slack_conversations WHERE digest <> ''"
        " AND (bridged_at IS NULL OR bridged_at < changed_at) ORDER BY changed_at LIMIT 5000"
    ).fetchall()
    for row in pending:
        cid = str(row["conversation_id"])
        messages = [m for m in store.conversation_messages(conn, cid) if m.kind == "message" and not m.deleted]
        for kind, sid, evidence, anchor in _mentions_in_slack(conn, messages, directory):
            if add_link(conn, cid, sid, kind, evidence, anchor_ts=anchor):
                report.add(kind)
        if people and not all_sessions:
            all_sessions = list(sessions_view.sessions_changed_since(conn, None))
        for sid, evidence, anchor in _same_person(messages, all_sessions, people, directory):
            if add_link(conn, cid, sid, "same-person", evidence, anchor_ts=anchor):
                report.add("same-person")
        if vectors is not None:
            for sid, score, evidence in _similar_sessions(conn, vectors, cid, threshold):
                if add_link(conn, cid, sid, "similar", evidence, score=score):
                    report.add("similar")
        conn.execute("UPDATE slack_conversations SET bridged_at = clock_timestamp() WHERE conversation_id = %s", (cid,))
        conn.commit()
        report.conversations += 1
    # Sessions come in changed_at order and each scan is committed, so the newest scan marks where to go on.
    last = conn.execute("SELECT max(scanned_at) AS since FROM slack_bridge_scans").fetchone()
    for info in sessions_view.sessions_changed_since(conn, last["since"] if last else None):
        record_mentions(conn, info)
        for linked, evidence, at in _same_person_from_session(conn, info, people, directory):
            if add_link(conn, linked, info.session_id, "same-person", evidence, anchor_ts=at):
                report.add("same-person")
        if vectors is not None:
            for linked, score, evidence in _similar_conversations(conn, vectors, info.session_id, threshold):
                if add_link(conn, linked, info.session_id, "similar", evidence, score=score):
                    report.add("similar")
        conn.execute(
            "INSERT INTO slack_bridge_scans (session_id, scanned_at) VALUES (%s, %s) ON CONFLICT"
            " (session_id) DO UPDATE SET scanned_at = EXCLUDED.scanned_at",
            (info.session_id, info.changed_at),
        )
        conn.commit()
        report.sessions += 1
    # Every pass, since the conversation a session named may have arrived after the session was scanned
    for linked_id, session_id, kind, evidence, anchor_ts in list(_linked_from_mentions(conn)):
        if add_link(conn, linked_id, session_id, kind, evidence, anchor_ts=anchor_ts):
            report.add(kind)
    conn.commit()
    return report


def _where(message: Message, directory: Directory) -> str:
    return (
        f"{speaker(message, directory)} in {directory.channels.get(message.channel_id, message.channel_id)} "
        f"at {when(message, UTC)}"
    )


def _mentions_in_slack(
    conn: Connection, messages: list[Message], directory: Directory
) -> Iterator[tuple[str, str, str, str]]:
    for m in messages:
        text = m.text + " " + " ".join(f["name"] + " " + f["link"] for f in m.files)
        for path in _TRANSCRIPT.findall(text):
            for sid in _UUID.findall(path):
                if sessions_view.session(conn, sid):
                    yield "transcript-mentioned", sid, f"{_where(m, directory)} mentioned the transcript {path}", m.ts
        for sid in dict.fromkeys(_UUID.findall(_TRANSCRIPT.sub(" ", text))):
            if sessions_view.session(conn, sid):
                yield "session-mentioned", sid, f"{_where(m, directory)} mentioned session {sid}", m.ts


def _same_person(
    messages: list[Message],
    sessions: list[sessions_view.SessionInfo],
    people: dict[str, set[str]],
    directory: Directory,
) -> Iterator[tuple[str, str, str]]:
    if not people:
        return
    for m in messages:
        names = people.get(m.user_id or "")
        if not names:
            continue
        at = ts_datetime(m.ts)
        for info in sessions:
            user = info.cli_user
            if user in names and info.first_event_at - OVERLAP_SLACK <= at <= info.last_event_at + OVERLAP_SLACK:
                yield (
                    info.session_id,
                    (
                        f"{speaker(m, directory)} (Slack {m.user_id} = CLI user {user}) wrote at {when(m, UTC)} while "
                        f"session {info.session_id} ran ({info.first_event_at:%Y-%m-%d %H:%M} to "
                        f"{info.last_event_at:%H:%M} UTC)"
                    ),
                    m.ts,
                )


def _similar_sessions(
    conn: Connection, vectors: Any, conversation_id: str, threshold: float
) -> Iterator[tuple[str, float, str]]:
    from ssot_pipelines.slack.recall import NAMESPACE

    rows = conn.execute(
        "SELECT chunk_no FROM slack_chunks WHERE conversation_id = %s ORDER BY chunk_no", (conversation_id,)
    ).fetchall()
    ids = [f"{conversation_id}:{r['chunk_no']}" for r in rows]
    best: dict[str, tuple[float, str]] = {}
    for item in vectors.fetch(NAMESPACE, ids).values():
        for hit in vectors.query(SESSIONS_NAMESPACE, item.vector, top_k=3):
            sid = hit.metadata.get("session_id")
            if isinstance(sid, str) and hit.score >= threshold and hit.score > best.get(sid, (0.0, ""))[0]:
                best[sid] = (
                    hit.score,
                    f"semantic similarity {hit.score:.2f} between conversation chunk "
                    f"{item.id} and session chunk {hit.id} (threshold {threshold:.2f})",
                )
    for sid, (score, evidence) in sorted(best.items()):
        yield sid, score, evidence


def _similar_conversations(
    conn: Connection, vectors: Any, session_id: str, threshold: float
) -> Iterator[tuple[str, float, str]]:
    """The other direction: a session that changed after the conversations were indexed, compared by its
    latest transcript chunks (the sessions package's ids ``<segment key>:<n>``) with conversation chunks."""
    from ssot_pipelines.slack.recall import NAMESPACE

    key = sessions_view.segment_key_at(conn, session_id, None)
    found = vectors.fetch(SESSIONS_NAMESPACE, [f"{key}:{n}" for n in range(SESSION_CHUNKS_LOOKED_AT)])
    latest = sorted(found.values(), key=lambda item: int(item.id.rpartition(":")[2]))[-8:]
    best: dict[str, tuple[float, str]] = {}
    for item in latest:
        for hit in vectors.query(NAMESPACE, item.vector, top_k=3):
            cid = hit.metadata.get("conversation_id")
            if isinstance(cid, str) and hit.score >= threshold and hit.score > best.get(cid, (0.0, ""))[0]:
                best[cid] = (
                    hit.score,
                    f"semantic similarity {hit.score:.2f} between conversation chunk "
                    f"{hit.id} and session chunk {item.id} (threshold {threshold:.2f})",
                )
    for cid, (score, evidence) in sorted(best.items()):
        yield cid, score, evidence


MAX_CHANNEL_NAMES = 50  # "#name" candidates kept per session ("#include" and "#fff" look alike)


def record_mentions(conn: Connection, info: sessions_view.SessionInfo) -> int:
    """Store the Slack places the session's text names; returns how many it names."""
    found: dict[str, tuple[str | None, str | None, str | None, str | None]] = {}
    names = 0
    for raw in sessions_view.session_text(conn, info.session_id):
        text = raw.replace("\\/", "/")
        for channel_id, p_digits, thread_ts in _PERMALINK.findall(text):
            if p_digits:
                ts = f"{p_digits[:10]}.{p_digits[10:]}"
                found.setdefault(f"{channel_id}/p{p_digits}", (channel_id, None, ts, thread_ts or None))
            else:
                found.setdefault(channel_id, (channel_id, None, None, None))
        for name in _CHANNEL.findall(text):
            if f"#{name}" not in found and names < MAX_CHANNEL_NAMES:
                found[f"#{name}"] = (None, name, None, None)
                names += 1
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO slack_session_mentions (session_id, target, channel_id, channel_name, ts, thread_ts,"
            " first_at, last_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (session_id, target)"
            " DO UPDATE SET first_at = EXCLUDED.first_at, last_at = EXCLUDED.last_at",
            [
                (info.session_id, target, *values, info.first_event_at, info.last_event_at)
                for target, values in found.items()
            ],
        )
    return len(found)


def _linked_from_mentions(conn: Connection) -> Iterator[tuple[str, str, str, str, str | None]]:
    """(conversation, session, kind, evidence, anchor ts) for every stored mention that a conversation answers."""
    rows = conn.execute(
        "SELECT m.*, coalesce(m.channel_id, c.channel_id) AS resolved FROM slack_session_mentions m"
        " LEFT JOIN slack_channels c ON m.channel_id IS NULL AND c.name = m.channel_name"
        " AND c.kind IN ('channel', 'group') ORDER BY m.session_id, m.target"
    ).fetchall()
    for m in rows:
        channel_id = m["resolved"]
        if channel_id is None:
            continue
        sid = str(m["session_id"])
        if m["ts"]:
            cid = (
                thread_conversation_id(channel_id, m["thread_ts"])
                if m["thread_ts"] and store.conversation_of(conn, channel_id, m["thread_ts"])
                else store.conversation_of(conn, channel_id, m["ts"])
            )
            if cid:
                evidence = f"session {sid} mentioned the Slack permalink …/archives/{m['target']}"
                yield cid, sid, "permalink-mentioned", evidence, m["ts"]
            continue
        mention = m["target"] if m["channel_name"] else f"the channel link …/archives/{channel_id}"
        for cid in _conversations_during(conn, channel_id, m["first_at"], m["last_at"]):
            evidence = f"session {sid} mentioned {mention}, and this conversation ran while the session did"
            yield cid, sid, "channel-mentioned", evidence, None


def _conversations_during(conn: Connection, channel_id: str, first: datetime, last: datetime) -> list[str]:
    start, end = _epoch(first - OVERLAP_SLACK), _epoch(last + OVERLAP_SLACK)
    rows = conn.execute(
        "SELECT DISTINCT conversation_id FROM slack_messages WHERE channel_id = %s AND kind = 'message'"
        " AND ts_num BETWEEN %s AND %s ORDER BY conversation_id",
        (channel_id, start, end),
    ).fetchall()
    return [str(r["conversation_id"]) for r in rows]


def _epoch(moment: datetime) -> float:
    return moment.timestamp()


def _same_person_from_session(
    conn: Connection, info: sessions_view.SessionInfo, people: dict[str, set[str]], directory: Directory
) -> Iterator[tuple[str, str, str]]:
    user = info.cli_user
    slack_ids = [sid for sid, names in people.items() if user and user in names]
    if not slack_ids:
        return
    start, end = _epoch(info.first_event_at - OVERLAP_SLACK), _epoch(info.last_event_at + OVERLAP_SLACK)
    rows = conn.execute(
        "SELECT DISTINCT ON (conversation_id) channel_id, ts, conversation_id FROM slack_messages"
        " WHERE user_id = ANY(%s) AND kind = 'message' AND NOT deleted AND ts_num BETWEEN %s AND %s"
        " ORDER BY conversation_id, ts_num",
        (slack_ids, start, end),
    ).fetchall()
    for r in rows:
        m = store.message(conn, r["channel_id"], r["ts"])
        if m is not None:
            yield (
                str(r["conversation_id"]),
                (
                    f"{speaker(m, directory)} (Slack {m.user_id} = CLI user {user}) wrote at {when(m, UTC)} while "
                    f"session {info.session_id} ran ({info.first_event_at:%Y-%m-%d %H:%M} to "
                    f"{info.last_event_at:%H:%M} UTC)"
                ),
                m.ts,
            )


# -- what each side shows -----------------------------------------------------------------------------


def related_sessions(conn: Connection, conversation_id: str) -> tuple[list[str], str]:
    """(CLI Sessions keys to relate, the evidence text) for a conversation's Notion row."""
    links = links_of_conversation(conn, conversation_id)
    keys: dict[str, None] = {}
    lines = []
    for link in links:
        anchor = ts_datetime(link["anchor_ts"]) if link["anchor_ts"] else None
        key = sessions_view.segment_key_at(conn, link["session_id"], anchor)
        keys.setdefault(key, None)
        lines.append(f"{key} · {link['kind']}: {link['evidence']}")
    return sorted(keys), "\n".join(lines)


def linked_conversations(conn: Connection, session_id: str, *, around: int = CONTEXT_MESSAGES) -> str:
    """The Slack conversations linked to a session, for ``ssot context``: for each, the message the link
    points at (else the latest) with ``around`` messages either side. "" when there are none."""
    links = links_of_session(conn, session_id)
    if not links:
        return ""
    directory = store.directory(conn)
    by_conversation: dict[str, list[dict[str, Any]]] = {}
    for link in links:
        by_conversation.setdefault(link["conversation_id"], []).append(link)
    out = ["## Linked Slack conversations"]
    for cid, found in by_conversation.items():
        messages = [m for m in store.conversation_messages(conn, cid) if m.kind == "message"]
        if not messages:
            continue
        anchors = [lk["anchor_ts"] for lk in found if lk["anchor_ts"]]
        index = next((i for i, m in enumerate(messages) if anchors and m.ts == anchors[-1]), len(messages) - 1)
        window = messages[max(0, index - around) : index + around + 1]
        channel = directory.channels.get(messages[0].channel_id, messages[0].channel_id)
        out += ["", f"### {channel} · {cid}"]
        out += [f"- {lk['kind']}: {lk['evidence']}" for lk in found]
        out += ["", *[message_paragraph(m, directory, UTC) + "\n" for m in window]]
    return "\n".join(out).rstrip() + "\n"


def session_start_note(conn: Connection, session_id: str) -> str:
    """One line per linked conversation for the SessionStart bridging output ("" when there are none)."""
    links = links_of_session(conn, session_id)
    if not links:
        return ""
    directory = store.directory(conn)
    lines = ["Slack conversations linked to this session (`ssot context` shows their messages):"]
    for cid in dict.fromkeys(lk["conversation_id"] for lk in links):
        messages = [m for m in store.conversation_messages(conn, cid) if m.kind == "message" and not m.deleted]
        if not messages:
            continue
        last = messages[-1]
        channel = directory.channels.get(last.channel_id, last.channel_id)
        lines.append(
            f"- {channel} ({cid}), {len(messages)} messages, latest by {speaker(last, directory)} at "
            f"{when(last, UTC)}: {render_text(last.text, directory)[:200]}"
        )
    return "\n".join(lines) + "\n"
