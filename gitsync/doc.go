// Package gitsync keeps a validated copy of the ops repository's definitions.
//
// It has two halves. The loader (load*.go, raw*.go, validate*.go)
// turns a tree of YAML files into an immutable *dayops.Catalog, decoding
// strictly into raw structs that never leave this package and reporting every
// problem of the tree at once as "file:line:col: message". The sync loop
// (sync*.go, repo*.go, export*.go) fetches the ops repo with go-git, loads each
// new revision, swaps the catalog in only when it is valid, and exports the
// tree at a revision for a run.
package gitsync
