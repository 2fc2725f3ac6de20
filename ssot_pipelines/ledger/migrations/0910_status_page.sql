-- The "SSoT Status" page of each Notion target: one page, a fixed skeleton of blocks created once and
-- patched in place when their text changes (Notion's Free block limit counts every block ever created).
CREATE TABLE IF NOT EXISTS status_pages (
    target       text PRIMARY KEY,
    page_id      text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    verified_at  timestamptz                 -- when the page and its blocks were last read back
);

CREATE TABLE IF NOT EXISTS status_page_blocks (
    target     text NOT NULL,
    section    text NOT NULL,                -- e.g. db:file_catalog, drift, hooks, budget
    block_id   text NOT NULL,
    text_hash  text NOT NULL,                -- digest of the rich text last written to the block
    PRIMARY KEY (target, section)
);

-- Dagster runs that failed (written by the run-failure sensor), shown on the page.
CREATE TABLE IF NOT EXISTS status_run_failures (
    run_id     text PRIMARY KEY,
    job_name   text NOT NULL,
    message    text NOT NULL,
    failed_at  timestamptz NOT NULL DEFAULT now()
);
