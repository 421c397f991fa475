-- 0007: claims. With several `dayops serve` replicas on one database each
-- runs an inbox worker and outbox senders; a row is claimed (claimed_by, a
-- process, until claimed_until, unix nanoseconds) by a conditional UPDATE
-- before it is processed or delivered, so that exactly one replica does it.
-- A claim whose time has passed (its replica died) is taken over.
ALTER TABLE inbox ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE inbox ADD COLUMN claimed_until INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN claimed_until INTEGER NOT NULL DEFAULT 0;
