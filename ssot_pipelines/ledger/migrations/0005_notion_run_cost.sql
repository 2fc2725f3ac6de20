-- What an incremental run trusts instead of asking Notion again (issue 14 §2).
-- The fingerprint of what provisioning last verified against Notion: the declared schemas of the seven
-- databases and the ids they were provisioned under. While the code's schemas and the ledger's ids still
-- hash to it, a run makes no schema read; a full sync, `ssot setup` or a write refused in a way that says
-- the schema changed reads Notion again and records a new one.
CREATE TABLE IF NOT EXISTS notion_schema_fingerprints (
    target       text PRIMARY KEY,
    fingerprint  text NOT NULL,
    verified_at  timestamptz NOT NULL DEFAULT now()
);

-- Who Notion said we are (GET /v1/users/me: the bot user and its workspace, no secret), per target and
-- token: asked once a day, not on every run. token_digest is a SHA-256 of the target and the token.
CREATE TABLE IF NOT EXISTS notion_preflights (
    target        text NOT NULL,
    token_digest  text NOT NULL,
    answer        jsonb NOT NULL DEFAULT '{}'::jsonb,
    checked_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (target, token_digest)
);
