-- The records table is the durable pending work of every Notion target (issue 8).
-- records.digest: the digest of the desired content (values, body, priority) as last staged.
-- notion_rows.pushed_digest: the record digest this target last received completely (NULL: still pending).
-- A record is pending for a target while it is present and that target has no synced row with its digest.
ALTER TABLE records ADD COLUMN IF NOT EXISTS digest text;
ALTER TABLE notion_rows ADD COLUMN IF NOT EXISTS pushed_digest text;

-- A source's rename (a moved file): staged once, applied lazily by every target that still holds the old
-- key's page, so each target keeps the page (and what people wrote on it) under the new key.
CREATE TABLE IF NOT EXISTS record_renames (
    id         bigserial PRIMARY KEY,
    database   text NOT NULL,
    old_key    text NOT NULL,
    new_key    text NOT NULL,
    staged_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS record_renames_database ON record_renames (database, id);
CREATE INDEX IF NOT EXISTS notion_rows_target_database ON notion_rows (target, database, state);
