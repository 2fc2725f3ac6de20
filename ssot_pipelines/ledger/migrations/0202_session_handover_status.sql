-- The Status handed to Notion, so a session that went quiet while "active" is extracted again once it
-- has been idle for 24 hours (and shows "ended").
ALTER TABLE session_handover ADD COLUMN IF NOT EXISTS status text;
