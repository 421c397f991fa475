//go:build !unix

package gitsync

import (
	"fmt"
)

// lockCache only creates the folder where file locks are not available; it
// never claims exclusive use, so exports are not cleared at start.
func lockCache(dir string) (unlock func() error, exclusive bool, err error) {
	if err := makePrivateDir(dir); err != nil {
		return nil, false, fmt.Errorf("creating the cache folder: %w", err)
	}
	return func() error { return nil }, false, nil
}
