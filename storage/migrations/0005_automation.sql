-- 0005: what automatic runs remember. Alertmanager groups and the alerts
-- seen in them (a firing is recognised by fingerprint and start time), the
-- remediation guard's automatic runs, and schedule firings, each claimed
-- once by its unique (definition, cron, scheduled_at).
CREATE TABLE alert_groups (
    group_key    TEXT    PRIMARY KEY,
    is_open      INTEGER NOT NULL,
    door         TEXT    NOT NULL DEFAULT '',
    channel      TEXT    NOT NULL DEFAULT '',
    channel_name TEXT    NOT NULL DEFAULT '',
    thread_id    TEXT    NOT NULL DEFAULT '',
    run_id       INTEGER NOT NULL DEFAULT 0,
    opened_at    INTEGER NOT NULL,
    resolved_at  INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE alert_instances (
    group_key   TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    starts_at   INTEGER NOT NULL,
    seen_at     INTEGER NOT NULL,
    UNIQUE (group_key, fingerprint, starts_at)
);
CREATE TABLE auto_runs (
    id          INTEGER PRIMARY KEY,
    trigger_key TEXT    NOT NULL,
    definition  TEXT    NOT NULL,
    target      TEXT    NOT NULL,
    at          INTEGER NOT NULL
);
CREATE INDEX auto_runs_trigger ON auto_runs (trigger_key, at);
CREATE INDEX auto_runs_target ON auto_runs (definition, target, at);
CREATE TABLE schedule_firings (
    definition   TEXT    NOT NULL,
    cron         TEXT    NOT NULL,
    scheduled_at INTEGER NOT NULL,
    state        TEXT    NOT NULL,
    run_id       INTEGER NOT NULL DEFAULT 0,
    recorded_at  INTEGER NOT NULL,
    UNIQUE (definition, cron, scheduled_at)
);
