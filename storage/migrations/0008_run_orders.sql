-- 0008: run orders. With several `dayops serve` replicas on one database a
-- cancel, supersede or withdraw may reach a replica that does not drive the
-- run; it is stored here, and the replica that owns the run (runs.owner)
-- applies it at its next heartbeat and sets done_at and outcome.
CREATE TABLE run_orders (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id       INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    kind         TEXT    NOT NULL,                 -- 'cancel', 'supersede' or 'withdraw'
    actor_id     TEXT    NOT NULL DEFAULT '',
    actor_name   TEXT    NOT NULL DEFAULT '',
    note         TEXT    NOT NULL DEFAULT '',
    requested_at INTEGER NOT NULL,
    done_at      INTEGER,                          -- NULL while it waits
    outcome      TEXT    NOT NULL DEFAULT ''       -- 'applied', or why not
);
CREATE INDEX run_orders_waiting ON run_orders (done_at, run_id);
