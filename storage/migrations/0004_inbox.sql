-- 0004: the inbox. A webhook delivery (GitHub) is stored before its sender
-- is answered and processed from here, so that a crash after the answer
-- loses nothing; (source, delivery) is unique, so a redelivery is stored once.
CREATE TABLE inbox (
    id          INTEGER PRIMARY KEY,
    source      TEXT    NOT NULL,
    delivery    TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    body        BLOB    NOT NULL,
    received_at INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,   -- failed processings so far
    next_at     INTEGER NOT NULL,             -- no processing is tried before it
    last_error  TEXT    NOT NULL DEFAULT '',
    done_at     INTEGER,                      -- NULL until processed
    UNIQUE (source, delivery)
);
CREATE INDEX inbox_pending ON inbox (source, done_at, id);
