//go:build race

package gitsync

// raceEnabled: the race detector slows code several times, so timed budgets
// are only checked without it (memory budgets hold either way).
const raceEnabled = true
