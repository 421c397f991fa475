// Package dayops holds the domain nouns of dayops: phase definitions and the
// catalog they form, runs and their steps, actors and threads, approvals,
// audit events, the role policy, expressions, the secret redactor and the one
// error type. It does no I/O; every other package speaks in these types.
package dayops
