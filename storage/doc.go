// Package storage keeps everything dayops must remember in SQLite: runs and
// their steps, log lines, approvals, the audit log, concurrency queues,
// environment locks, webhook delivery de-duplication and sync history.
//
// Every fact that coordinates work — a queue position, a lock, a delivery
// seen — is a row, never process memory, so that a later PostgreSQL
// implementation can serve several replicas. For the same reason the SQL in
// this package is portable (? placeholders, ON CONFLICT, RETURNING); what is
// SQLite's own — the driver, the DSN pragmas, error codes, VACUUM INTO — lives
// in sqlite.go, and the schema in migrations/ is written in SQLite's dialect.
//
// Every exported method owns its transaction, and the audit row of a change is
// written in the same transaction as the change: either both are stored or
// neither is. Writes go through a single connection that begins transactions
// with BEGIN IMMEDIATE, so writers queue instead of failing with SQLITE_BUSY;
// reads use a separate pool and see consistent WAL snapshots.
//
// The AuditEvent given with a change is completed before it is written: a
// zero Time becomes now and a zero RunID the run changed; an event without an
// Action gets the change's own ("run.create", "run.state", "run.rollback",
// "lock", "unlock", "approval"), a target ("run 42", "env staging") and
// Allowed true, so that no change is ever recorded without a row saying so.
//
// Times are stored as INTEGER Unix nanoseconds in UTC (NULL for the zero
// time) and come back in UTC; enums are TEXT; maps and lists are JSON TEXT.
package storage
