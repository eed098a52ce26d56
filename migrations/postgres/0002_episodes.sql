-- The agent's episode journal: one row per attempt at a task, and its events in order.
-- Same tables and columns as migrations/sqlite/0002_episodes.sql. Events are append-only.

CREATE TABLE episodes (
    id          TEXT PRIMARY KEY,                -- UUID
    task        TEXT NOT NULL,                   -- JSON
    source      TEXT NOT NULL CHECK (source IN ('curriculum', 'user')),
    status      TEXT NOT NULL DEFAULT 'running'
                CHECK (status IN ('running', 'admitted', 'solved_with_existing', 'failed', 'interrupted')),
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    outcome     TEXT                             -- JSON, set when the episode finishes
);
CREATE INDEX episodes_status ON episodes (status, started_at);
CREATE INDEX episodes_started ON episodes (started_at);

CREATE TABLE episode_events (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    episode_id TEXT NOT NULL REFERENCES episodes (id) ON DELETE CASCADE,
    seq        BIGINT NOT NULL CHECK (seq >= 1),   -- 1, 2, ... per episode
    kind       TEXT NOT NULL,
    payload    TEXT NOT NULL,                    -- JSON
    created_at TIMESTAMPTZ NOT NULL,
    UNIQUE (episode_id, seq)
);
