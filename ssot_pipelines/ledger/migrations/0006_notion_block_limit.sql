-- The Free-workspace block limit's circuit breaker, per Notion target (reference/notion-2026.md §5).
-- A row exists once Notion refused to create blocks for the target; held = true while page bodies wait
-- in the ledger (properties keep syncing). Released when a block-creating write succeeds again; the row
-- stays (held = false) so the engine keeps spending blocks sparingly for a workspace known to be limited.
CREATE TABLE IF NOT EXISTS notion_block_limit (
    target           text PRIMARY KEY,
    held             boolean NOT NULL DEFAULT true,
    held_since       timestamptz NOT NULL DEFAULT now(),
    message          text NOT NULL,
    refusals         integer NOT NULL DEFAULT 1,
    last_refused_at  timestamptz NOT NULL DEFAULT now(),
    released_at      timestamptz
);
