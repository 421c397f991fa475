-- 0002: triggers record their context; run reporting is stored.

-- What the trigger of a run knew (pr.*, alert.*, schedule.*), as JSON.
ALTER TABLE runs ADD COLUMN context TEXT NOT NULL DEFAULT '{}';

-- The trigger kind of an audited decision (chat, button, alert, …).
ALTER TABLE audit ADD COLUMN trigger_kind TEXT NOT NULL DEFAULT '';

-- Where a run is reported: one message in one thread of one door. The row is
-- written when the run is first reported, the message ID when it is posted,
-- and shown_state every time the message is brought up to date, so that any
-- process (after a restart, or another replica) goes on updating the same
-- message until it shows the run's final state.
CREATE TABLE reports (
    run_id      INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    door        TEXT    NOT NULL,
    channel     TEXT    NOT NULL DEFAULT '',
    thread_id   TEXT    NOT NULL DEFAULT '',
    thread_name TEXT    NOT NULL DEFAULT '',
    message_id  TEXT    NOT NULL DEFAULT '',
    refs        TEXT    NOT NULL DEFAULT '{}',         -- JSON object: door references
    shown_state TEXT    NOT NULL DEFAULT '',
    shown_at    INTEGER,
    failures    INTEGER NOT NULL DEFAULT 0,            -- failed deliveries since the last success
    last_error  TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (run_id, door, channel, thread_id)
);
CREATE INDEX reports_shown ON reports (shown_state, run_id);
