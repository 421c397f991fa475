// Package executor is the run engine of dayops: it plans a run of a
// definition, records it, waits for its approvals, its concurrency key and
// environment freezes, runs its steps as local processes (or through another
// Runner), streams their redacted output to storage and subscribers, and
// drives the run's state machine to its end, running the rollback steps when a
// step fails, times out or the run is cancelled.
//
// Every state change goes through the store, in the same transaction as its
// audit row; every queue position, lock and approval is a row, so a run can be
// recovered, or taken over by the next process, after a crash. Step processes
// carry DAYOPS_RUN_ID and DAYOPS_OWNER in their environment, so that Recover
// can kill what a dead dayops process of the same host left running. User
// text never becomes code: parameters reach scripts only as environment
// variables, and expression values are inserted as text and never parsed
// again.
//
// Approvals are checked here against the plan hash and the approval rule;
// whether an actor may run, approve, cancel or lock at all is decided by the
// bot before it calls the executor.
package executor
