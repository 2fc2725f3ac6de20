-- The File Catalog keys files as <repo>/<path>: issues carry their repository so that two repositories'
-- files with one relative path never match each other's issues.
ALTER TABLE analysis_issues ADD COLUMN IF NOT EXISTS repo text NOT NULL DEFAULT '';
ALTER TABLE analysis_runs ADD COLUMN IF NOT EXISTS repo text NOT NULL DEFAULT '';
DROP INDEX IF EXISTS analysis_issues_tool_path;
CREATE INDEX IF NOT EXISTS analysis_issues_repo_tool_path ON analysis_issues (repo, tool, path);
