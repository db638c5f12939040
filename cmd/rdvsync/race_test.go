//go:build race

package main

// raceEnabled: the race detector slows the daemon several times; load
// tests scale down.
const raceEnabled = true
