-- 0001: the first schema of dayops.
--
-- SQLite dialect: a PostgreSQL implementation keeps its own numbered
-- migrations with the same tables and columns (BIGINT for the INTEGER times,
-- BIGSERIAL or identity columns for AUTOINCREMENT, BOOLEAN for the 0/1 flags).
-- Times are INTEGER Unix nanoseconds in UTC; NULL means "not yet".
-- Enums are TEXT. Maps and lists are JSON TEXT.

CREATE TABLE runs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: users quote run IDs
    definition      TEXT    NOT NULL,
    phase           TEXT    NOT NULL,
    service         TEXT    NOT NULL DEFAULT '',
    environment     TEXT    NOT NULL DEFAULT '',
    params          TEXT    NOT NULL,                  -- JSON object
    revision        TEXT    NOT NULL DEFAULT '',
    plan_hash       TEXT    NOT NULL DEFAULT '',
    concurrency_key TEXT    NOT NULL DEFAULT '',
    state           TEXT    NOT NULL,
    rollback_state  TEXT    NOT NULL DEFAULT '',
    rollback_of     INTEGER REFERENCES runs (id),
    parent_id       INTEGER REFERENCES runs (id),
    trigger_kind    TEXT    NOT NULL DEFAULT '',
    actor_id        TEXT    NOT NULL DEFAULT '',
    actor_name      TEXT    NOT NULL DEFAULT '',
    actor_groups    TEXT    NOT NULL,                  -- JSON list
    thread          TEXT    NOT NULL,                  -- JSON object
    reason          TEXT    NOT NULL DEFAULT '',
    owner           TEXT    NOT NULL DEFAULT '',
    heartbeat       INTEGER,
    current_step    TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    started_at      INTEGER,
    ended_at        INTEGER
);
CREATE INDEX runs_definition ON runs (definition, environment, state, id);
CREATE INDEX runs_service ON runs (service, environment, id);
CREATE INDEX runs_state ON runs (state, id);
CREATE INDEX runs_owner ON runs (owner, state);

CREATE TABLE step_runs (
    run_id     INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    idx        INTEGER NOT NULL,
    step_id    TEXT    NOT NULL DEFAULT '',
    name       TEXT    NOT NULL DEFAULT '',
    kind       TEXT    NOT NULL DEFAULT '',
    rollback   INTEGER NOT NULL DEFAULT 0,
    state      TEXT    NOT NULL,
    exit_code  INTEGER NOT NULL DEFAULT 0,
    attempts   INTEGER NOT NULL DEFAULT 0,
    error      TEXT    NOT NULL DEFAULT '',
    outputs    TEXT    NOT NULL,                       -- JSON object
    started_at INTEGER,
    ended_at   INTEGER,
    PRIMARY KEY (run_id, idx)
);

CREATE TABLE log_lines (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq    INTEGER NOT NULL,
    step   INTEGER NOT NULL,
    at     INTEGER NOT NULL,
    stream TEXT    NOT NULL,
    line   TEXT    NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE INDEX log_lines_at ON log_lines (at);

CREATE TABLE approvals (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id       INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    gate         TEXT    NOT NULL,
    actor_id     TEXT    NOT NULL DEFAULT '',
    actor_name   TEXT    NOT NULL DEFAULT '',
    actor_groups TEXT    NOT NULL,                     -- JSON list
    approved     INTEGER NOT NULL,
    reason       TEXT    NOT NULL DEFAULT '',
    plan_hash    TEXT    NOT NULL DEFAULT '',
    valid        INTEGER NOT NULL,
    note         TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL
);
CREATE INDEX approvals_run ON approvals (run_id, gate, id);

-- audit has no foreign key: a decision about a run that was never created
-- (or a run deleted by hand) must still be recorded.
CREATE TABLE audit (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    actor   TEXT    NOT NULL DEFAULT '',
    place   TEXT    NOT NULL DEFAULT '',
    action  TEXT    NOT NULL DEFAULT '',
    target  TEXT    NOT NULL DEFAULT '',
    run_id  INTEGER,
    allowed INTEGER NOT NULL,
    reason  TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_run ON audit (run_id, id);

CREATE TABLE run_queue (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,       -- arrival order
    queue_key TEXT    NOT NULL,
    run_id    INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    UNIQUE (queue_key, run_id)
);
CREATE INDEX run_queue_key ON run_queue (queue_key, seq);
CREATE INDEX run_queue_run ON run_queue (run_id);

CREATE TABLE env_locks (
    environment  TEXT    PRIMARY KEY,
    actor_id     TEXT    NOT NULL DEFAULT '',
    actor_name   TEXT    NOT NULL DEFAULT '',
    actor_groups TEXT    NOT NULL,                     -- JSON list
    reason       TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL
);

CREATE TABLE deliveries (
    source  TEXT    NOT NULL,
    id      TEXT    NOT NULL,
    seen_at INTEGER NOT NULL,
    PRIMARY KEY (source, id)
);
CREATE INDEX deliveries_seen ON deliveries (seen_at);

CREATE TABLE syncs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    duration_ns INTEGER NOT NULL,
    revision    TEXT    NOT NULL DEFAULT '',
    serving     TEXT    NOT NULL DEFAULT '',
    outcome     TEXT    NOT NULL,
    definitions INTEGER NOT NULL,
    errors      TEXT    NOT NULL                       -- JSON list
);
