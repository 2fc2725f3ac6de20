-- Capture you can trust (issue 9).

-- Journal checkpoints are keyed by the journal directory's identity (its `journal-id` file), so several
-- machines or journal directories ship to one ledger without sharing offsets. Rows written before this
-- migration keep journal_id 'legacy' and are never read again: every journal is re-read from its start
-- once under its new id, which duplicates nothing (journal records carry their event ids) and loses nothing.
ALTER TABLE session_journal_offsets ADD COLUMN IF NOT EXISTS journal_id text NOT NULL DEFAULT 'legacy';
ALTER TABLE session_journal_offsets DROP CONSTRAINT IF EXISTS session_journal_offsets_pkey;
ALTER TABLE session_journal_offsets ADD PRIMARY KEY (journal_id, segment);

-- Events the ledger cannot store as they are (a lone surrogate in the session id, NUL in the text, a
-- value PostgreSQL refuses): kept here with their exact bytes and the reason, so the drain goes on past
-- them. `ssot worker --redrive-quarantine` parses them again and moves those now storable into
-- session_events (released_at set).
CREATE TABLE IF NOT EXISTS session_quarantine (
    quarantine_id  bigserial PRIMARY KEY,
    fingerprint    text NOT NULL UNIQUE,        -- where it came from + its bytes: a re-read adds nothing
    source         text NOT NULL,               -- hook | transcript | rollout
    tool           text NOT NULL,
    origin         text NOT NULL,               -- journal/<journal id>/<segment> or the transcript file
    event_id       text,                        -- as far as it could be read
    raw            bytea NOT NULL,              -- the exact original bytes
    context        jsonb NOT NULL DEFAULT '{}', -- what the parser needs to read it again
    reason         text NOT NULL,
    attempts       integer NOT NULL DEFAULT 1,
    quarantined_at timestamptz NOT NULL DEFAULT now(),
    last_tried_at  timestamptz NOT NULL DEFAULT now(),
    released_at    timestamptz                  -- stored in session_events by a re-drive
);
CREATE INDEX IF NOT EXISTS session_quarantine_held ON session_quarantine (quarantine_id) WHERE released_at IS NULL;

-- Same event id, different content: every distinct content is kept. The first one keeps the id; each
-- other is stored as "<id>~<sha256 prefix of its text>" with version_of naming the original id.
ALTER TABLE session_events ADD COLUMN IF NOT EXISTS version_of text;
CREATE INDEX IF NOT EXISTS session_events_versions ON session_events (version_of) WHERE version_of IS NOT NULL;
