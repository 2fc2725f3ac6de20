-- People's answers in Slack (a reaction, a thread reply) reach the agents' work graph: the drain marks
-- each such event when it stores it, and hands it to tasks after the batch commits. Events stored before
-- this migration stay unmarked (they were captured while nothing listened; replaying old approvals now
-- would surprise people).
ALTER TABLE slack_events ADD COLUMN IF NOT EXISTS forward_pending boolean NOT NULL DEFAULT false;
CREATE INDEX IF NOT EXISTS slack_events_forward_pending ON slack_events (received_at) WHERE forward_pending;
