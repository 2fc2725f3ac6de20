-- Slack conversations (issue 11): channels, people, every message by (channel_id, ts), the
-- conversations they form, the Events API journal's progress, links to CLI sessions and shares.

CREATE TABLE IF NOT EXISTS slack_channels (
    channel_id text PRIMARY KEY,
    name       text NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('channel', 'group', 'im', 'mpim')),
    members    jsonb NOT NULL DEFAULT '[]',
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- People and bots: from users.json, or resolved through users.info (source 'api').
CREATE TABLE IF NOT EXISTS slack_users (
    user_id      text PRIMARY KEY,
    real_name    text,
    display_name text,
    handle       text,
    is_bot       boolean NOT NULL DEFAULT false,
    source       text NOT NULL CHECK (source IN ('export', 'api')),
    fetched_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS slack_messages (
    channel_id      text NOT NULL,
    ts              text NOT NULL,
    ts_num          numeric(20, 6) NOT NULL,      -- ordering: float(ts) loses the micro part
    thread_ts       text,
    conversation_id text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('message', 'membership')),
    subtype         text,
    user_id         text,
    bot_name        text,
    text            text NOT NULL DEFAULT '',     -- Slack's mrkdwn as sent; rendered when a body is built
    edited          boolean NOT NULL DEFAULT false,
    deleted         boolean NOT NULL DEFAULT false,
    files           jsonb NOT NULL DEFAULT '[]',
    reactions       jsonb NOT NULL DEFAULT '[]',
    source_day      text,                         -- the export day file it came from (NULL: live event)
    digest          text NOT NULL,                -- of what is shown; decides new/changed/unchanged
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel_id, ts)
);
CREATE INDEX IF NOT EXISTS slack_messages_by_conversation ON slack_messages (conversation_id, ts_num);
CREATE INDEX IF NOT EXISTS slack_messages_by_thread ON slack_messages (channel_id, thread_ts) WHERE thread_ts IS NOT NULL;
CREATE INDEX IF NOT EXISTS slack_messages_by_day ON slack_messages (channel_id, source_day) WHERE source_day IS NOT NULL;

CREATE TABLE IF NOT EXISTS slack_conversations (
    conversation_id text PRIMARY KEY,
    channel_id      text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('thread', 'day')),
    anchor          text NOT NULL,                -- thread_ts, or the day (YYYY-MM-DD)
    digest          text NOT NULL DEFAULT '',     -- of its messages' digests, in order
    changed_at      timestamptz NOT NULL DEFAULT clock_timestamp(),  -- also moved by a resolved name or a new link
    indexed_at      timestamptz,                  -- the changed_at the vector index was built from
    bridged_at      timestamptz                   -- when links to CLI sessions were last looked for
);

-- The vector chunks of each conversation (ids "<conversation_id>:<n>"), so unchanged text is not re-embedded.
CREATE TABLE IF NOT EXISTS slack_chunks (
    conversation_id text NOT NULL,
    chunk_no        integer NOT NULL,
    first_ts        text NOT NULL,
    last_ts         text NOT NULL,
    text_sha        text NOT NULL,
    PRIMARY KEY (conversation_id, chunk_no)
);
CREATE INDEX IF NOT EXISTS slack_conversations_by_change ON slack_conversations (changed_at);

-- What the slack_conversations extract handed to the Notion sync, per Notion target.
CREATE TABLE IF NOT EXISTS slack_handover (
    target          text NOT NULL,
    conversation_id text NOT NULL,
    changed_at      timestamptz NOT NULL,         -- the conversation's changed_at when handed over
    unresolved      boolean NOT NULL DEFAULT false, -- a related CLI session had no Notion page yet
    handed_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (target, conversation_id)
);

-- Events API envelopes drained from the receiver's journal: event_id makes Slack's retries harmless.
CREATE TABLE IF NOT EXISTS slack_events (
    event_id    text PRIMARY KEY,
    received_at timestamptz NOT NULL,
    body        text NOT NULL,                    -- the exact JSON Slack sent
    applied     boolean NOT NULL DEFAULT false
);
CREATE TABLE IF NOT EXISTS slack_journal_offsets (
    segment     text PRIMARY KEY,
    byte_offset bigint NOT NULL,
    skipped     integer NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- A conversation and a CLI session belong together; the evidence is stored with the link.
CREATE TABLE IF NOT EXISTS slack_session_links (
    conversation_id text NOT NULL,
    session_id      text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('session-mentioned', 'transcript-mentioned', 'permalink-mentioned',
                                                  'channel-mentioned', 'same-person', 'similar', 'shared')),
    evidence        text NOT NULL,
    anchor_ts       text,                          -- the message the evidence points at, if any
    score           double precision,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (conversation_id, session_id, kind)
);
CREATE INDEX IF NOT EXISTS slack_session_links_by_session ON slack_session_links (session_id);

-- Sessions whose text was scanned for Slack permalinks and channels, as of which change.
CREATE TABLE IF NOT EXISTS slack_bridge_scans (
    session_id text PRIMARY KEY,
    scanned_at timestamptz NOT NULL
);

-- Slack places a session's text names (a permalink, an /archives/ link, a #channel), kept so that a
-- conversation imported after the session was scanned is still linked to it.
CREATE TABLE IF NOT EXISTS slack_session_mentions (
    session_id   text NOT NULL,
    target       text NOT NULL,                    -- "C…/p<ts digits>", "C…" or "#name", as written
    channel_id   text,
    channel_name text,
    ts           text,
    thread_ts    text,
    first_at     timestamptz NOT NULL,             -- the session's time span when last scanned
    last_at      timestamptz NOT NULL,
    PRIMARY KEY (session_id, target)
);

-- `ssot slack share`: one post per session and thread ('' = a new top-level post in the channel).
CREATE TABLE IF NOT EXISTS slack_shares (
    session_id text NOT NULL,
    channel_id text NOT NULL,
    thread_ts  text NOT NULL DEFAULT '',
    state      text NOT NULL CHECK (state IN ('posting', 'posted')),
    message_ts text,
    posted_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, channel_id, thread_ts)
);
