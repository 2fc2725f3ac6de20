-- The Notion views the project made (issue 13 §1), by id: the project changes or deletes only these, never a
-- view a person made. ``slot`` is the view's stable identity in ssot_pipelines/dashboards/plan.py.
CREATE TABLE IF NOT EXISTS dashboard_views (
    target        text NOT NULL,
    slot          text NOT NULL,
    view_id       text NOT NULL,
    database_name text NOT NULL,                    -- the database it is shown in
    view_type     text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    checked_at    timestamptz NOT NULL DEFAULT now(),
    restored      integer NOT NULL DEFAULT 0,       -- times it was recreated after a person deleted it
    PRIMARY KEY (target, slot)
);
