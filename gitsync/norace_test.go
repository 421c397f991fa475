//go:build !race

package gitsync

const raceEnabled = false
