package api

import "time"

// SetHeartbeat sets the event stream's heartbeat for a test and returns
// what restores it.
func SetHeartbeat(d time.Duration) func() {
	old := heartbeat
	heartbeat = d
	return func() { heartbeat = old }
}
