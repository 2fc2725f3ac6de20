-- The records table is the durable pending work of every Notion target (issue 8).
-- records.digest: the digest of the desired content (values, body, priority), kept by PostgreSQL itself so
-- every writer (the sync, a capability's staging, an importer) leaves it right.
-- notion_rows.pushed_digest: the record digest this target last received completely (NULL: pending).
-- A record is pending for a target while it is present and that target has no synced row with its digest.
ALTER TABLE records ADD COLUMN IF NOT EXISTS digest text GENERATED ALWAYS AS (
    md5("values"::text || E'\x1f' || CASE WHEN body IS NULL THEN 'n' ELSE 'b' || body END
        || E'\x1f' || priority::text)
) STORED;
ALTER TABLE notion_rows ADD COLUMN IF NOT EXISTS pushed_digest text;

-- Rows an earlier version synced completely after their record last changed have that content.
UPDATE notion_rows n SET pushed_digest = r.digest
  FROM records r
 WHERE r.database = n.database AND r.key = n.key AND n.state = 'synced'
   AND n.machine_hash IS NOT NULL AND n.machine_hash NOT LIKE 'partial:%'
   AND n.synced_at IS NOT NULL AND r.updated_at <= n.synced_at;

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
