package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/dayops/dayops"
	"github.com/dayops/dayops/executor"
)

// ownerNote tells, for a run that has not ended, what is known of the dayops
// process that drives it when that is not running it any more: gone (a
// process of this host that no longer runs), or silent (another host's, with
// no heartbeat for three intervals). The time is its last heartbeat. "" when
// the run ended or its owner is alive. A run stays in its state until a
// dayops process recovers it; this only tells the truth about it meanwhile.
func ownerNote(r *dayops.Run, now time.Time) string {
	if r.State.Final() || r.Owner == "" {
		return ""
	}
	since := "an unknown time"
	if !r.Heartbeat.IsZero() {
		layout := "15:04:05"
		if r.Heartbeat.Local().Format(time.DateOnly) != now.Local().Format(time.DateOnly) {
			layout = "2006-01-02 15:04:05"
		}
		since = r.Heartbeat.Local().Format(layout)
	}
	switch {
	case executor.OwnerGone(r.Owner):
		return fmt.Sprintf(" (owner gone since %s: the next dayops to start recovers it)", since)
	case !r.Heartbeat.IsZero() && now.Sub(r.Heartbeat) > 3*executor.DefaultHeartbeatInterval && !onThisHost(r.Owner):
		return fmt.Sprintf(" (owner %s silent since %s)", r.Owner, since)
	}
	return ""
}

// onThisHost reports whether owner ("host:pid:start") is of this host.
func onThisHost(owner string) bool {
	i := strings.LastIndexByte(owner, ':')
	if i < 0 {
		return false
	}
	j := strings.LastIndexByte(owner[:i], ':')
	return j >= 0 && owner[:j] == hostname()
}
