-- Runs of `skillforge eval`. Same table and columns as migrations/sqlite/0003_eval_runs.sql.

CREATE TABLE eval_runs (
    id          TEXT PRIMARY KEY,                -- UUID
    source      TEXT NOT NULL,                   -- what was evaluated (a suite file, an environment)
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,                     -- NULL while running or after a crash
    report      TEXT NOT NULL                    -- JSON
);
CREATE INDEX eval_runs_started ON eval_runs (started_at);
