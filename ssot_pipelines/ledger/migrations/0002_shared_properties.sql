-- Shared properties (the machine proposes a value, a person may take it over): the values the sync last
-- wrote, so a value a person changed in Notion is recognised as theirs and left alone.
ALTER TABLE notion_rows ADD COLUMN IF NOT EXISTS shared jsonb NOT NULL DEFAULT '{}'::jsonb;
