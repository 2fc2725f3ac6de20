-- Core of the sync: desired records, what was pushed where, and run reports.
CREATE TABLE IF NOT EXISTS notion_databases (
    target          text NOT NULL,           -- a Notion workspace parent: hash of base URL + parent page
    name            text NOT NULL,           -- schema name, e.g. file_catalog
    database_id     text NOT NULL,
    data_source_id  text NOT NULL,
    property_ids    jsonb NOT NULL DEFAULT '{}'::jsonb,
    provisioned_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (target, name)
);

-- The desired state, as the sources last said it. Full values: nothing here is ever truncated.
CREATE TABLE IF NOT EXISTS records (
    database    text NOT NULL,
    key         text NOT NULL,
    "values"    jsonb NOT NULL,
    body        text,
    priority    integer NOT NULL DEFAULT 0,
    human       jsonb NOT NULL DEFAULT '{}'::jsonb,   -- human-owned values pulled back from Notion
    present     boolean NOT NULL DEFAULT true,        -- false once the source says the record vanished
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (database, key)
);

-- What was pushed to which Notion page; the checkpoint that makes a killed run resumable.
-- creating: a create was attempted and may or may not have landed (look the key up before retrying);
-- writing: the page exists but a write to it (properties or body) was in flight.
CREATE TABLE IF NOT EXISTS notion_rows (
    target        text NOT NULL,
    database      text NOT NULL,
    key           text NOT NULL,
    page_id       text,
    state         text NOT NULL CHECK (state IN ('creating', 'writing', 'synced', 'archived')),
    machine_hash  text,
    body_hash     text,
    body_length   integer,
    intent_at     timestamptz,
    synced_at     timestamptz,
    PRIMARY KEY (target, database, key)
);
CREATE UNIQUE INDEX IF NOT EXISTS notion_rows_page_id ON notion_rows (page_id) WHERE page_id IS NOT NULL;

CREATE TABLE IF NOT EXISTS sync_runs (
    id           bigserial PRIMARY KEY,
    target       text NOT NULL,
    database     text NOT NULL,
    mode         text NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    report       jsonb
);

CREATE TABLE IF NOT EXISTS sync_watermarks (
    target        text NOT NULL,
    database      text NOT NULL,
    pulled_until  timestamptz NOT NULL,
    PRIMARY KEY (target, database)
);
