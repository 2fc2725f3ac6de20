-- The result of each audit of a database (ssot verify, asset checks): the status page shows the last one.
CREATE TABLE IF NOT EXISTS notion_audits (
    id          bigserial PRIMARY KEY,
    target      text NOT NULL,
    database    text NOT NULL,
    ok          boolean NOT NULL,
    summary     text NOT NULL,
    source      text NOT NULL DEFAULT 'verify',   -- verify | asset_check | ...
    audited_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS notion_audits_last ON notion_audits (target, database, id DESC);
