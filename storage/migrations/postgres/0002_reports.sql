-- 0002: triggers record their context; run reporting is stored.
-- PostgreSQL's twin of ../0002_reports.sql.

ALTER TABLE runs ADD COLUMN context TEXT NOT NULL DEFAULT '{}';

ALTER TABLE audit ADD COLUMN trigger_kind TEXT NOT NULL DEFAULT '';

CREATE TABLE reports (
    run_id      BIGINT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    door        TEXT   NOT NULL,
    channel     TEXT   NOT NULL DEFAULT '',
    thread_id   TEXT   NOT NULL DEFAULT '',
    thread_name TEXT   NOT NULL DEFAULT '',
    message_id  TEXT   NOT NULL DEFAULT '',
    refs        TEXT   NOT NULL DEFAULT '{}',
    shown_state TEXT   NOT NULL DEFAULT '',
    shown_at    BIGINT,
    failures    BIGINT NOT NULL DEFAULT 0,
    last_error  TEXT   NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (run_id, door, channel, thread_id)
);
CREATE INDEX reports_shown ON reports (shown_state, run_id);
