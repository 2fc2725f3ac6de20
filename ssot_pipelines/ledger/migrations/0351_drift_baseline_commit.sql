-- Churn counts the commits after the one a baseline was accepted at (timestamps are only second-precise).
ALTER TABLE drift_baselines ADD COLUMN IF NOT EXISTS git_commit text;
ALTER TABLE drift_baseline_history ADD COLUMN IF NOT EXISTS git_commit text;
