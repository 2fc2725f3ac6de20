-- Notion webhook events (issue 13 §4), drained from the receiver's journal. Events are hints: they carry ids,
-- never values; event_id de-duplicates Notion's retries (no timestamp is signed, so there is no replay window).
CREATE TABLE IF NOT EXISTS notion_webhook_events (
    event_id    text PRIMARY KEY,
    received_at timestamptz NOT NULL,
    type        text NOT NULL,
    entity_id   text,
    body        text NOT NULL,                    -- the exact JSON Notion sent
    outcome     text,                             -- pulled | unchanged | ignored: <why> | failed: <why>
    applied_at  timestamptz
);
CREATE INDEX IF NOT EXISTS notion_webhook_events_pending ON notion_webhook_events (received_at) WHERE applied_at IS NULL;
