-- 0003: the outbox. What the bot posts besides run messages (thread replies,
-- notices, offers) is written here first and delivered by a worker, so that
-- a message that could not be delivered waits and is delivered later, also
-- after a restart. Rows of one door and channel are delivered in id order.
CREATE TABLE outbox (
    id           INTEGER PRIMARY KEY,
    door         TEXT    NOT NULL,
    channel      TEXT    NOT NULL DEFAULT '',
    thread_id    TEXT    NOT NULL DEFAULT '',
    thread_name  TEXT    NOT NULL DEFAULT '',
    message      TEXT    NOT NULL,                -- JSON: the bot's door-neutral message
    run_id       INTEGER,                         -- the run it is about, when any
    created_at   INTEGER NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,      -- failed deliveries so far
    next_at      INTEGER NOT NULL,                -- no delivery is tried before it
    last_error   TEXT    NOT NULL DEFAULT '',
    delivered_at INTEGER                          -- NULL until delivered
);
CREATE INDEX outbox_pending ON outbox (door, channel, delivered_at, id);
