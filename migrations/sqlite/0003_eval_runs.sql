-- Runs of `skillforge eval`: one row per run, its report (JSON) rewritten as tasks finish,
-- so that a run cut short keeps what it measured.

CREATE TABLE eval_runs (
    id          TEXT PRIMARY KEY NOT NULL,       -- UUID
    source      TEXT NOT NULL,                   -- what was evaluated (a suite file, an environment)
    started_at  TEXT NOT NULL,
    finished_at TEXT,                            -- NULL while running or after a crash
    report      TEXT NOT NULL                    -- JSON
);
CREATE INDEX eval_runs_started ON eval_runs (started_at);
