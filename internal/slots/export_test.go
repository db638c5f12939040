package slots

// WallClock is wallClock, for the reference search of reference_test.go.
var WallClock = wallClock
