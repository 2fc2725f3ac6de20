-- Full-text search over transcript paragraphs reads a stored tsvector instead of recomputing it per row:
-- `ts_rank_cd` needs the vector of every matching paragraph, and with only an expression index PostgreSQL
-- ran to_tsvector again for each (about 800 rows per query word over 100,000 chunks). The expression is the
-- one search has always used (to_tsvector refuses texts over 1 MB, so a huge tool output is searched by
-- its beginning): results are unchanged. Adding the column computes it for the rows already there.
ALTER TABLE session_paragraphs ADD COLUMN IF NOT EXISTS tsv tsvector
    GENERATED ALWAYS AS (to_tsvector('english', left(text, 200000))) STORED;
CREATE INDEX IF NOT EXISTS session_paragraphs_tsv ON session_paragraphs USING gin (tsv);
-- The expression index search used to create on first use; the column's index replaces it.
DROP INDEX IF EXISTS session_paragraphs_fts;
