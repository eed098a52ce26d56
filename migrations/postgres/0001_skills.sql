-- Skill library: the source of truth. The vector index is derived from these rows
-- and rebuilt from them; index_outbox records index writes still to be applied.
-- Same tables and columns as migrations/sqlite/0001_skills.sql.

CREATE TABLE namespaces (
    name       TEXT PRIMARY KEY,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE skills (
    -- Identity columns never reuse ids: they are also the index's point ids.
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    namespace       TEXT NOT NULL REFERENCES namespaces (name),
    name            TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'active'
                    CHECK (status IN ('active', 'deprecated', 'quarantined')),
    current_version BIGINT NOT NULL CHECK (current_version >= 1),
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (namespace, name)
);

CREATE TABLE skill_versions (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    skill_id     BIGINT NOT NULL REFERENCES skills (id) ON DELETE CASCADE,
    version      BIGINT NOT NULL CHECK (version >= 1),
    description  TEXT NOT NULL,
    signature    TEXT NOT NULL,
    code         TEXT NOT NULL,
    tests        TEXT NOT NULL,          -- JSON
    capabilities TEXT NOT NULL,          -- JSON array of strings
    content_hash TEXT NOT NULL,          -- hex sha256 of code and tests
    embedder_id  TEXT,
    runnable     BOOLEAN NOT NULL,
    provenance   TEXT NOT NULL,          -- JSON object: task, episode, model
    created_at   TIMESTAMPTZ NOT NULL,
    UNIQUE (skill_id, version)
);
CREATE INDEX skill_versions_content_hash ON skill_versions (content_hash);

-- Call graph between versions: a caller version pins the callee versions it was
-- validated against.
CREATE TABLE skill_edges (
    caller_version_id BIGINT NOT NULL REFERENCES skill_versions (id) ON DELETE CASCADE,
    callee_version_id BIGINT NOT NULL REFERENCES skill_versions (id),
    PRIMARY KEY (caller_version_id, callee_version_id),
    CHECK (caller_version_id <> callee_version_id)
);
CREATE INDEX skill_edges_callee ON skill_edges (callee_version_id);

CREATE TABLE skill_stats (
    skill_id         BIGINT PRIMARY KEY REFERENCES skills (id) ON DELETE CASCADE,
    calls            BIGINT NOT NULL DEFAULT 0,
    successes        BIGINT NOT NULL DEFAULT 0,
    failures         BIGINT NOT NULL DEFAULT 0,
    total_latency_ms BIGINT NOT NULL DEFAULT 0,
    last_verified_at TIMESTAMPTZ,
    last_used_at     TIMESTAMPTZ
);

-- No foreign key on skill_id: a 'delete' entry outlives its skill.
CREATE TABLE index_outbox (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    skill_id   BIGINT NOT NULL,
    op         TEXT NOT NULL CHECK (op IN ('upsert', 'delete')),
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
