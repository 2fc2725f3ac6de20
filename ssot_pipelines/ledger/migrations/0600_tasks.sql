-- The agents' work graph (ssot_pipelines/tasks): tasks, their dependency edges, the append-only activity
-- log, what was last proposed to / seen in Notion, and the Slack threads and posts of each task.

CREATE TABLE IF NOT EXISTS tasks (
    id                bigserial PRIMARY KEY,
    external_key      text UNIQUE,                -- a staged record's key; NULL for tasks added by the API
    title             text NOT NULL,
    body              text NOT NULL DEFAULT '',
    role              text CHECK (role IN ('planner', 'executor', 'reviewer')),
    priority          smallint NOT NULL DEFAULT 2 CHECK (priority BETWEEN 0 AND 3),
    status            text NOT NULL DEFAULT 'todo'
                      CHECK (status IN ('todo', 'in_progress', 'blocked', 'done', 'cancelled')),
    parent_id         bigint REFERENCES tasks (id),
    implements        text,                       -- the key of the SecondBrain Task this task implements
    requires_approval boolean NOT NULL DEFAULT false,
    approved_at       timestamptz,
    approved_by       text,
    claimed_by        text,
    claimed_at        timestamptz,
    lease_until       timestamptz,
    lease_seconds     integer,
    attempts          integer NOT NULL DEFAULT 0,
    blocked_by        text,                       -- who blocked it: an agent's name or "person:<who>"
    person_blocked    boolean NOT NULL DEFAULT false,
    block_reason      text,
    done_note         text,
    done_at           timestamptz,
    staged_hash       text,                       -- digest of the staged/imported record last applied
    origin            text NOT NULL DEFAULT 'api', -- api, stage (`ssot stage task_tracking`), import (a file)
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'in_progress') = (claimed_by IS NOT NULL AND lease_until IS NOT NULL))
);

-- The ready queue walks todo tasks by priority, then age.
CREATE INDEX IF NOT EXISTS tasks_ready_idx ON tasks (priority, created_at, id) WHERE status = 'todo';
CREATE INDEX IF NOT EXISTS tasks_lease_idx ON tasks (lease_until) WHERE status = 'in_progress';

-- task_id waits for dep_id.
CREATE TABLE IF NOT EXISTS task_deps (
    task_id    bigint NOT NULL REFERENCES tasks (id),
    dep_id     bigint NOT NULL REFERENCES tasks (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, dep_id),
    CHECK (task_id <> dep_id)
);
CREATE INDEX IF NOT EXISTS task_deps_dep_idx ON task_deps (dep_id);

CREATE TABLE IF NOT EXISTS task_activity (
    id         bigserial PRIMARY KEY,
    task_id    bigint NOT NULL REFERENCES tasks (id),
    at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    agent      text NOT NULL,
    role       text,
    kind       text NOT NULL,
    note       text,
    session_id text,
    source     text NOT NULL DEFAULT 'cli'       -- cli, mcp, api, notion, slack, staging, lease
);
CREATE INDEX IF NOT EXISTS task_activity_task_idx ON task_activity (task_id, id);

-- Append-only: the log is the record of what agents and people did, so nothing may rewrite it.
CREATE OR REPLACE FUNCTION task_activity_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'task_activity is append-only (% refused)', TG_OP;
END $$;
DROP TRIGGER IF EXISTS task_activity_append_only ON task_activity;
CREATE TRIGGER task_activity_append_only BEFORE UPDATE OR DELETE ON task_activity
    FOR EACH ROW EXECUTE FUNCTION task_activity_append_only();

-- Per task: the shared values last proposed to Notion, and the values last seen there, so a person's
-- change is recognised once (it differs from both) and applied to the graph exactly once.
CREATE TABLE IF NOT EXISTS task_notion_state (
    task_id bigint PRIMARY KEY REFERENCES tasks (id),
    pushed  jsonb NOT NULL DEFAULT '{}',
    seen    jsonb NOT NULL DEFAULT '{}'
);

CREATE TABLE IF NOT EXISTS task_slack_threads (
    task_id      bigint PRIMARY KEY REFERENCES tasks (id),
    channel      text NOT NULL,
    thread_ts    text,                           -- NULL while the root post is in flight
    attempted_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS task_slack_threads_ts_idx ON task_slack_threads (channel, thread_ts);

CREATE TABLE IF NOT EXISTS task_slack_posts (
    activity_id     bigint PRIMARY KEY REFERENCES task_activity (id),
    idempotency_key text NOT NULL UNIQUE,
    channel         text NOT NULL,
    ts              text,                        -- NULL while the post is in flight (intent recorded first)
    attempted_at    timestamptz NOT NULL DEFAULT now(),
    posted_at       timestamptz
);
CREATE INDEX IF NOT EXISTS task_slack_posts_ts_idx ON task_slack_posts (channel, ts);

-- Slack events applied to tasks, de-duplicated on event_id (Slack retries deliveries).
CREATE TABLE IF NOT EXISTS task_slack_events (
    event_id    text PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    task_id     bigint,
    outcome     text NOT NULL
);

-- Cross-process pacing of Slack posts: the earliest time the next post may go out.
CREATE TABLE IF NOT EXISTS task_slack_pace (
    channel text PRIMARY KEY,
    next_at timestamptz NOT NULL
);
