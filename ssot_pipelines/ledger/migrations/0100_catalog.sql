-- File Catalog (issue 3): per-file state for incremental scans, renames, and the catalog event outbox.

-- One row per file currently in a tracked repository, as of its last scan.
CREATE TABLE IF NOT EXISTS catalog_files (
    repo          text NOT NULL,
    path          text NOT NULL,               -- repo-relative POSIX path; bytes that are not UTF-8 as \xNN
    key           text NOT NULL,               -- the File Catalog key: <repo>/<path>
    path_bytes    bytea,                       -- the raw repo-relative name, only when it is not valid UTF-8
    sha           text NOT NULL,               -- git blob SHA-1 (git hash-object --no-filters)
    size          bigint NOT NULL,
    mtime_ns      bigint NOT NULL,
    content_mtime_ns bigint NOT NULL,          -- mtime when the content last changed: the Last Modified shown
    ctime_ns      bigint NOT NULL,
    ino           bigint NOT NULL,
    mode          integer NOT NULL,
    file_type     text NOT NULL,
    component     text,
    preview       text,
    first_seen    timestamptz NOT NULL DEFAULT now(),  -- carried over a rename
    last_changed  timestamptz NOT NULL DEFAULT now(),  -- last time the SHA changed
    last_scanned  timestamptz NOT NULL DEFAULT now(),
    renamed_from  text,                        -- the key this file had before its last rename
    PRIMARY KEY (repo, path)
);
CREATE UNIQUE INDEX IF NOT EXISTS catalog_files_key ON catalog_files (key);
CREATE INDEX IF NOT EXISTS catalog_files_sha ON catalog_files (sha);

-- Every rename the catalog recognised: the history of a file across paths.
CREATE TABLE IF NOT EXISTS catalog_renames (
    id           bigserial PRIMARY KEY,
    repo         text NOT NULL,
    old_key      text NOT NULL,
    new_key      text NOT NULL,
    sha          text NOT NULL,
    detected_by  text NOT NULL,                -- 'same content' | 'git'
    page_kept    boolean NOT NULL,             -- the Notion page moved to the new path (else: archived + created)
    detected_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS catalog_renames_new_key ON catalog_renames (new_key);

-- Outbox of catalog events, written in the same transaction as the state change, then published to Redis.
CREATE TABLE IF NOT EXISTS catalog_events (
    id            bigserial PRIMARY KEY,
    kind          text NOT NULL CHECK (kind IN ('added', 'changed', 'deleted', 'renamed')),
    repo          text NOT NULL,
    key           text NOT NULL,
    path          text NOT NULL,
    old_key       text,
    sha           text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz
);
CREATE INDEX IF NOT EXISTS catalog_events_unpublished ON catalog_events (id) WHERE published_at IS NULL;

-- Per repository: where it is and the git HEAD at its last sync (for git's rename detection).
CREATE TABLE IF NOT EXISTS catalog_repos (
    repo               text PRIMARY KEY,
    root               text NOT NULL,
    head_commit        text,
    last_sync_at       timestamptz,
    last_full_sync_at  timestamptz
);
