//go:build race

package executor_test

// raceDetector is true when the tests run with -race, ten times slower.
const raceDetector = true
