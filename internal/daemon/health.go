package daemon

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
		"agi": map[string]any{"active_sessions": d.AGI.ActiveSessions()},
	}
	if d.AMI != nil {
		as := d.AMI.State()
		doc["ami"] = map[string]any{"configured": true, "connected": as.Connected, "since": as.Since, "last_error": as.LastError}
		if !as.Connected {
			status = "degraded"
		}
	} else {
		doc["ami"] = map[string]any{"configured": false}
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
