-- Full-text search over Slack messages reads a stored tsvector instead of recomputing it per row:
-- `ts_rank_cd` needs the vector of every matching message, and with only an expression index PostgreSQL
-- ran to_tsvector again for each. The expression is the one search has always used (to_tsvector refuses
-- texts over 1 MB): results are unchanged. Adding the column computes it for the rows already there.
ALTER TABLE slack_messages ADD COLUMN IF NOT EXISTS tsv tsvector
    GENERATED ALWAYS AS (to_tsvector('english', left(text, 200000))) STORED;
CREATE INDEX IF NOT EXISTS slack_messages_tsv ON slack_messages USING gin (tsv);
-- The expression index search used to create on first use; the column's index replaces it.
DROP INDEX IF EXISTS slack_messages_fts;
