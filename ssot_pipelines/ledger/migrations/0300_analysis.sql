-- Static-analysis findings tracked across analyses (issue 5). Issue identity is a project UUID given the
-- first time a finding is seen; later analyses are matched to it, never keyed by line number.
CREATE TABLE IF NOT EXISTS analysis_runs (
    id              bigserial PRIMARY KEY,
    tool            text NOT NULL,
    report_format   text NOT NULL,
    source          text NOT NULL,              -- report file or 'ssot analyze run'
    source_sha256   text,
    scope_paths     jsonb,                      -- repo-relative files analysed; NULL = the whole repository
    findings        integer NOT NULL DEFAULT 0,
    new_issues      integer NOT NULL DEFAULT 0,
    fixed_issues    integer NOT NULL DEFAULT 0,
    reopened_issues integer NOT NULL DEFAULT 0,
    matched_issues  integer NOT NULL DEFAULT 0,
    removed_issues  integer NOT NULL DEFAULT 0,
    analyzed_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS analysis_issues (
    issue_id         uuid PRIMARY KEY,
    tool             text NOT NULL,
    rule             text NOT NULL,             -- tool-qualified, e.g. ruff:F401
    path             text NOT NULL,             -- repo-relative POSIX
    line             integer,
    end_line         integer,
    col              integer,
    message          text NOT NULL,
    message_norm     text NOT NULL,
    native_severity  text,
    severity         text NOT NULL CHECK (severity IN ('blocker', 'critical', 'major', 'minor', 'info')),
    line_hash        text NOT NULL DEFAULT '',
    block_hash       text NOT NULL DEFAULT '',
    scope            text NOT NULL DEFAULT '',
    external_id      text,
    fingerprints     jsonb NOT NULL DEFAULT '{}'::jsonb,
    context          text NOT NULL DEFAULT '',   -- the source lines around the finding
    hint             text,
    status           text NOT NULL CHECK (status IN ('open', 'fixed', 'reopened', 'removed')),
    tool_status      text,                       -- accepted / false_positive reported by the tool itself
    reopen_count     integer NOT NULL DEFAULT 0,
    first_seen       timestamptz NOT NULL,
    last_seen        timestamptz NOT NULL,
    fixed_at         timestamptz,
    updated_at       timestamptz NOT NULL,
    first_run_id     bigint REFERENCES analysis_runs (id),
    last_run_id      bigint REFERENCES analysis_runs (id)
);
CREATE INDEX IF NOT EXISTS analysis_issues_tool_path ON analysis_issues (tool, path);
CREATE INDEX IF NOT EXISTS analysis_issues_external ON analysis_issues (tool, external_id) WHERE external_id IS NOT NULL;

-- Reports seen in the reports folder: imported ones are not imported twice, rejected ones are counted.
CREATE TABLE IF NOT EXISTS analysis_report_files (
    path          text NOT NULL,
    sha256        text NOT NULL,
    outcome       text NOT NULL CHECK (outcome IN ('imported', 'rejected')),
    run_id        bigint REFERENCES analysis_runs (id),
    error         text,
    seen_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (path, sha256)
);
