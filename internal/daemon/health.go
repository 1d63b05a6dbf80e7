package daemon

import "time"

// health is /healthz: the index, AMI, AGI and call-log state, no secrets.
// It is not ok while no name can be resolved at all.
func (d *Daemon) health() (any, bool) {
	st := d.Directory.State()
	status := "ok"
	if st.LastError != "" {
		status = "degraded"
	}
	doc := map[string]any{
		"version": d.version,
		"index": map[string]any{"numbers": st.Numbers, "partners": st.Partners, "complete": st.Complete,
			"loaded": st.Loaded, "last_sync": st.LastSync, "last_error": st.LastError},
		"agi":       map[string]any{"active_sessions": d.AGI.ActiveSessions()},
		"companies": d.Directory.Companies(),
	}
	pbxs := d.PBXStates()
	for _, p := range pbxs {
		if p.AMI.Configured && !p.AMI.Connected {
			status = "degraded"
		}
	}
	doc["ami"] = pbxs[0].AMI // the first PBX's, as with one
	if len(pbxs) > 1 {
		doc["pbxs"] = pbxs // which manager is down
	}
	if d.Spool != nil {
		ss, rs, ds := d.Spool.Stats(), d.Retry.Stats(), d.Deliverer.Stats()
		doc["calllog"] = map[string]any{"enabled": true, "pending_bytes": ss.Pending, "retry_pending_bytes": rs.Pending,
			"spooled": ss.Appended, "dropped": ss.Dropped + rs.Dropped, "delivered": ds.Delivered, "skipped": ds.Skipped,
			"rejected": ds.Rejected, "retried": ds.Retried, "failures": ds.Failures, "last_error": ds.LastError}
		if ds.LastError != "" {
			status = "degraded"
		}
	} else {
		doc["calllog"] = map[string]any{"enabled": false}
	}
	if !st.Loaded {
		status = "unavailable"
	}
	doc["status"] = status
	return doc, st.Loaded
}

// PBXState is one PBX as /healthz and the status view show it.
type PBXState struct {
	Name string   `json:"name"`
	AMI  AMIState `json:"ami"`
}

// AMIState is a manager connection's state.
type AMIState struct {
	Configured bool      `json:"configured"`
	Connected  bool      `json:"connected"`
	Since      time.Time `json:"since,omitzero"`
	LastError  string    `json:"last_error,omitempty"`
}

// PBXStates lists every PBX of the running config, in its order, with
// its manager's state.
func (d *Daemon) PBXStates() []PBXState {
	var out []PBXState
	for _, p := range d.started.pbxList() {
		st := PBXState{Name: p.Name}
		for _, m := range d.Managers {
			if m.PBX == p.Name {
				as := m.Client.State()
				st.AMI = AMIState{Configured: true, Connected: as.Connected, Since: as.Since, LastError: as.LastError}
			}
		}
		out = append(out, st)
	}
	return out
}
