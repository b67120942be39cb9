//go:build race

package embedding

// raceEnabled skips allocation counts: the race detector makes sync.Pool
// drop items on purpose.
const raceEnabled = true
