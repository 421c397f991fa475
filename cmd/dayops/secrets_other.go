//go:build !linux

package main

// protectProcess does nothing where prctl(2) does not exist.
func protectProcess() {}

// wipeStartEnvironment does nothing where /proc/self/mem does not exist.
func wipeStartEnvironment([]string) {}
