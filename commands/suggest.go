package commands

import "github.com/dayops/dayops"

// Suggest returns the candidate that word most likely misspells, or "" when
// none is close: dayops.Suggest, the one did-you-mean of the project, kept
// here for the doors and the CLI that already call it.
func Suggest(word string, candidates []string) string { return dayops.Suggest(word, candidates) }
