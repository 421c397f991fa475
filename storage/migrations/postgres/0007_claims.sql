-- 0007: claims. PostgreSQL's twin of ../0007_claims.sql.
ALTER TABLE inbox ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE inbox ADD COLUMN claimed_until BIGINT NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN claimed_until BIGINT NOT NULL DEFAULT 0;
