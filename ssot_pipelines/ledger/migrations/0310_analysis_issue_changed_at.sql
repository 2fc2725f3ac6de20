-- When each issue last changed as Tech-Debt shows it (issue 8): its text, place, severity, code or status.
-- Tech-Debt shows this date instead of "Last Seen", which moved with every re-import of an unchanged report;
-- last_seen and last_run_id stay here, in the ledger, as run bookkeeping.
ALTER TABLE analysis_issues ADD COLUMN IF NOT EXISTS changed_at timestamptz;

-- Existing rows: the last status change the ledger can vouch for (closing, else first sight).
UPDATE analysis_issues
SET changed_at = CASE WHEN status IN ('fixed', 'removed') AND fixed_at IS NOT NULL THEN fixed_at ELSE first_seen END
WHERE changed_at IS NULL;
