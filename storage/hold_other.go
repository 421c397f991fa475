//go:build !unix

package storage

import "context"

// holdShared does nothing where flock is not available: a restore cannot
// tell that the database is in use there.
func holdShared(ctx context.Context, path string) (release func() error, err error) {
	return func() error { return nil }, nil
}

// Exclusive cannot tell whether the database is in use where flock is not
// available; it holds nothing.
func Exclusive(path string) (release func() error, err error) {
	return func() error { return nil }, nil
}
