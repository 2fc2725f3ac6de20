-- CLI sessions (issue 4): every event exactly as it arrived, the sessions they form, and the links
-- between sessions. Nothing here is ever truncated: `raw` is the original JSON text, byte for byte.

CREATE TABLE IF NOT EXISTS session_events (
    event_id            text PRIMARY KEY,          -- stable: cc:<uuid>, hook:<id>, codex:<session>:<sha>, ...
    seq                 bigserial UNIQUE,          -- arrival order; ties in `ts` keep it
    session_id          text NOT NULL,
    tool                text NOT NULL,             -- claude-code | codex
    source              text NOT NULL,             -- hook | transcript | rollout
    kind                text NOT NULL,             -- prompt, assistant, tool_use, tool_result, compact_boundary, hook:<Event>, ...
    ts                  timestamptz NOT NULL,
    message_uuid        text,
    parent_uuid         text,
    logical_parent_uuid text,
    tool_use_id         text,
    prompt_id           text,
    is_sidechain        boolean NOT NULL DEFAULT false,
    agent_id            text,
    cwd                 text,
    git_branch          text,
    origin              text NOT NULL,             -- the file (or journal segment) it came from
    raw                 text NOT NULL,             -- the exact original JSON line
    live_pushed         boolean NOT NULL DEFAULT false,   -- Redis stage done (or not needed: older than 24 h)
    ingested_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS session_events_by_session ON session_events (session_id, ts, seq);
CREATE INDEX IF NOT EXISTS session_events_by_uuid ON session_events (message_uuid) WHERE message_uuid IS NOT NULL;
CREATE INDEX IF NOT EXISTS session_events_live_pending ON session_events (seq) WHERE NOT live_pushed;

-- One row per session id: what changed when, so the sensor, the recall indexer and the Notion
-- extract only look at sessions with something new.
CREATE TABLE IF NOT EXISTS sessions (
    session_id      text PRIMARY KEY,
    tool            text NOT NULL,
    cwd             text,
    git_branch      text,
    transcript_path text,
    first_event_at  timestamptz NOT NULL,
    last_event_at   timestamptz NOT NULL,
    event_count     integer NOT NULL DEFAULT 0,
    changed_at      timestamptz NOT NULL DEFAULT now(),
    indexed_at      timestamptz,                   -- recall chunks built from the state at this time
    extracted_at    timestamptz                    -- last handed to the Notion sync
);
CREATE INDEX IF NOT EXISTS sessions_by_change ON sessions (changed_at);

-- Links between session segments (keys "<session_id>#<n>"), earlier -> later.
CREATE TABLE IF NOT EXISTS session_links (
    from_key   text NOT NULL,
    to_key     text NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('compacted', 'resumed', 'forked', 'cleared', 'continued')),
    evidence   text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (from_key, to_key)
);
CREATE INDEX IF NOT EXISTS session_links_by_to ON session_links (to_key);

-- How far each local journal segment has been committed into session_events.
CREATE TABLE IF NOT EXISTS session_journal_offsets (
    segment    text PRIMARY KEY,
    byte_offset bigint NOT NULL,
    skipped    integer NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- How far each transcript / rollout file has been imported; head_sha detects a file rewritten in place.
CREATE TABLE IF NOT EXISTS session_transcript_files (
    path        text PRIMARY KEY,
    byte_offset bigint NOT NULL,
    head_sha    text NOT NULL,
    lines       bigint NOT NULL DEFAULT 0,
    skipped     bigint NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The rendered transcript of each segment as paragraphs, and the recall chunks over them, so a search
-- hit can return its surrounding paragraphs without re-rendering the session.
CREATE TABLE IF NOT EXISTS session_paragraphs (
    session_key  text NOT NULL,
    paragraph_no integer NOT NULL,
    text         text NOT NULL,
    PRIMARY KEY (session_key, paragraph_no)
);

CREATE TABLE IF NOT EXISTS session_chunks (
    chunk_id        text PRIMARY KEY,              -- "<session_key>:<chunk_no>", also the vector id
    session_key     text NOT NULL,
    chunk_no        integer NOT NULL,
    first_paragraph integer NOT NULL,
    last_paragraph  integer NOT NULL,
    text_sha        text NOT NULL
);
CREATE INDEX IF NOT EXISTS session_chunks_by_session ON session_chunks (session_key, chunk_no);
