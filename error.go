package dayops

import (
	"errors"
	"fmt"
)

// Kind classifies an error so that doors can choose a status code or a reply
// without looking at error text.
type Kind string

// The kinds of error. They are stable strings because they reach logs and APIs.
const (
	KindInvalid     Kind = "invalid"     // the input is wrong; Message says how to fix it
	KindNotFound    Kind = "not_found"   // a named thing does not exist
	KindConflict    Kind = "conflict"    // the state forbids it now (locked, already ended)
	KindForbidden   Kind = "forbidden"   // no role grants it
	KindTimeout     Kind = "timeout"     // a deadline passed
	KindUnavailable Kind = "unavailable" // a dependency is down; retrying may help
	KindInternal    Kind = "internal"    // a bug or an unexpected fault; details are logged, not shown
)

// Error is the one error type of dayops. Message is written for the user who
// asked; Op and Err are for the log.
type Error struct {
	Kind    Kind
	Message string // safe to show to the user
	Op      string // the operation, e.g. "executor.start"
	Err     error  // the cause, logged whole, never shown
}

// Error renders the error for logs.
func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = string(e.Kind)
	}
	switch {
	case e.Op != "" && e.Err != nil:
		return fmt.Sprintf("%s: %s: %v", e.Op, msg, e.Err)
	case e.Op != "":
		return e.Op + ": " + msg
	case e.Err != nil:
		return msg + ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of kind with a user-facing message.
func Errorf(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// KindOf returns the kind of the first *Error in err's chain, KindInternal for
// any other non-nil error and "" for nil.
func KindOf(err error) Kind {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// UserMessage is what a user may see of err: the Message of a non-internal
// *Error, otherwise a generic text. ref (a run ID, a delivery ID) helps the
// operator find the logged details; it may be empty.
func UserMessage(err error, ref string) string {
	var e *Error
	if errors.As(err, &e) && e.Kind != KindInternal && e.Message != "" {
		return e.Message
	}
	if ref != "" {
		return "internal error (" + ref + ")"
	}
	return "internal error"
}
