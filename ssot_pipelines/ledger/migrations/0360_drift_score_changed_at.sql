-- When each file's shown score last changed (issue 8): the Drift Board shows this date, which moves only
-- when the score, a signal, the band or the explanation changes, never because an analysis ran again.
ALTER TABLE drift_scores ADD COLUMN IF NOT EXISTS changed_at timestamptz;

-- Existing rows: the time of the analysis that last changed what the row shows.
WITH marked AS (
    SELECT s.analysis_id, s.file_key, a.analyzed_at,
           ROW(lag(round(s.drift_score::numeric, 3)) OVER w, lag(round(s.content_change::numeric, 3)) OVER w,
               lag(round(s.structural_change::numeric, 3)) OVER w, lag(round(s.semantic_distance::numeric, 3)) OVER w,
               lag(round(s.churn::numeric, 3)) OVER w, lag(s.band) OVER w, lag(s.explanation) OVER w, lag(s.path) OVER w,
               lag(s.component) OVER w)
           IS DISTINCT FROM
           ROW(round(s.drift_score::numeric, 3), round(s.content_change::numeric, 3),
               round(s.structural_change::numeric, 3), round(s.semantic_distance::numeric, 3),
               round(s.churn::numeric, 3), s.band, s.explanation, s.path, s.component) AS changed
    FROM drift_scores s JOIN drift_analyses a ON a.id = s.analysis_id
    WINDOW w AS (PARTITION BY s.file_key ORDER BY s.analysis_id)
), since AS (
    SELECT analysis_id, file_key,
           max(CASE WHEN changed THEN analyzed_at END)
               OVER (PARTITION BY file_key ORDER BY analysis_id ROWS UNBOUNDED PRECEDING) AS changed_at
    FROM marked
)
UPDATE drift_scores s SET changed_at = since.changed_at
FROM since WHERE s.analysis_id = since.analysis_id AND s.file_key = since.file_key AND s.changed_at IS NULL;
