-- What the cli_sessions extract handed to the Notion sync, per segment key, until the sync engine's own
-- tables (records, notion_rows) confirm the same body reached Notion. An unconfirmed handover is
-- extracted again, so a sync that crashed or met 5xx errors never leaves a session behind.
CREATE TABLE IF NOT EXISTS session_handover (
    key        text PRIMARY KEY,
    session_id text NOT NULL,
    body_sha   text NOT NULL,
    confirmed  boolean NOT NULL DEFAULT false,
    handed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS session_handover_unconfirmed ON session_handover (key) WHERE NOT confirmed;

-- Evidence of a link seen while importing a file (history of another session copied into it, a trusted
-- summary.leafUuid): kept here because the copied lines themselves are deduplicated away.
CREATE TABLE IF NOT EXISTS session_link_evidence (
    to_session   text NOT NULL,
    from_session text NOT NULL,
    kind         text NOT NULL,
    evidence     text NOT NULL,
    PRIMARY KEY (to_session, from_session, kind)
);
