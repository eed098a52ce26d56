-- The agent's episode journal: one row per attempt at a task, and its events in order.
-- Events are append-only: rows of episode_events are inserted, never updated or deleted
-- (except with their episode). An episode left 'running' after a crash is resumed or
-- marked 'interrupted' from its events.

CREATE TABLE episodes (
    id          TEXT PRIMARY KEY NOT NULL,       -- UUID
    task        TEXT NOT NULL,                   -- JSON
    source      TEXT NOT NULL CHECK (source IN ('curriculum', 'user')),
    status      TEXT NOT NULL DEFAULT 'running'
                CHECK (status IN ('running', 'admitted', 'solved_with_existing', 'failed', 'interrupted')),
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    outcome     TEXT                             -- JSON, set when the episode finishes
);
CREATE INDEX episodes_status ON episodes (status, started_at);
CREATE INDEX episodes_started ON episodes (started_at);

CREATE TABLE episode_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    episode_id TEXT NOT NULL REFERENCES episodes (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL CHECK (seq >= 1),  -- 1, 2, ... per episode
    kind       TEXT NOT NULL,
    payload    TEXT NOT NULL,                    -- JSON
    created_at TEXT NOT NULL,
    UNIQUE (episode_id, seq)
);
