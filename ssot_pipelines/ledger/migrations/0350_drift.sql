-- Drift of each file from its accepted baseline and its component's spec, and the tasks it raises (issue 5).
CREATE TABLE IF NOT EXISTS drift_baselines (
    file_key        text PRIMARY KEY,            -- the File Catalog key
    path            text NOT NULL,               -- repo-relative POSIX
    component       text,
    content         text NOT NULL,               -- the accepted text, kept whole for order-insensitive diffs
    content_sha256  text NOT NULL,
    loc             integer NOT NULL,
    spec_similarity double precision,            -- s_B: cosine(spec, summary of the baseline)
    spec_sha256     text,
    accepted_at     timestamptz NOT NULL,
    accepted_by     text NOT NULL,               -- 'first analysis' | 'cli' | 'notion'
    notion_accept_consumed boolean NOT NULL DEFAULT false
);

CREATE TABLE IF NOT EXISTS drift_baseline_history (
    id              bigserial PRIMARY KEY,
    file_key        text NOT NULL,
    content_sha256  text NOT NULL,
    spec_similarity double precision,
    accepted_at     timestamptz NOT NULL,
    accepted_by     text NOT NULL
);

CREATE TABLE IF NOT EXISTS drift_analyses (
    id            bigserial PRIMARY KEY,
    analyzed_at   timestamptz NOT NULL DEFAULT now(),
    files         integer NOT NULL DEFAULT 0,
    seconds       double precision
);

CREATE TABLE IF NOT EXISTS drift_scores (
    analysis_id        bigint NOT NULL REFERENCES drift_analyses (id),
    file_key           text NOT NULL,
    path               text NOT NULL,
    component          text,
    content_change     double precision NOT NULL,
    structural_change  double precision NOT NULL,
    semantic_distance  double precision,         -- NULL when the component has no spec
    churn              double precision NOT NULL,
    drift_score        double precision NOT NULL,
    band               text NOT NULL,
    explanation        text NOT NULL,
    inputs             jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (analysis_id, file_key)
);
CREATE INDEX IF NOT EXISTS drift_scores_file ON drift_scores (file_key, analysis_id DESC);

-- SecondBrain tasks raised by drift and tech debt: one row per problem, keyed stably.
CREATE TABLE IF NOT EXISTS secondbrain_task_state (
    task_key        text PRIMARY KEY,            -- drift:<file key> | debt:<issue id>
    kind            text NOT NULL CHECK (kind IN ('drift', 'tech_debt')),
    subject_key     text NOT NULL,               -- the Drift Board or Tech-Debt key
    name            text NOT NULL,
    priority        text NOT NULL,
    assigned_agent  text NOT NULL,
    drift_score     double precision,
    problem_state   text NOT NULL CHECK (problem_state IN ('present', 'resolved')),
    reason          text NOT NULL,
    opened_at       timestamptz NOT NULL,
    resolved_at     timestamptz,
    updated_at      timestamptz NOT NULL
);

-- Critical drift notifications sent, so one analysis notifies once.
CREATE TABLE IF NOT EXISTS drift_notifications (
    analysis_id  bigint NOT NULL,
    file_key     text NOT NULL,
    sent_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (analysis_id, file_key)
);
