package daemon

import (
	"reflect"
)

// ReloadFile re-reads the running config's file and applies it. An invalid
// file keeps the running config, with one line that says why.
func (d *Daemon) ReloadFile() error {
	c, err := LoadConfig(d.Config().Path)
	if err != nil {
		d.Log.Error("reload: keeping the running config", "err", err)
		return err
	}
	d.Reload(c)
	return nil
}

// Reload applies c. Users, the caller-ID format, the timeouts and debug
// change at once, without dropping a session. Other sections need a
// restart: each reload names those that differ from what runs, until the
// process restarts.
func (d *Daemon) Reload(c *Config) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.Flows.SetSettings(c.settings())
	d.Directory.SetUserLogins(c.users().Logins())
	d.level.Set(levelOf(c.Debug))
	d.running.Store(c)
	if restart := restartSections(d.started, c); len(restart) > 0 {
		d.Log.Warn("reload: applied users, [callerid], timeouts and debug; these sections differ from what runs and need a restart", "sections", restart)
		return
	}
	d.Log.Info("reload: applied", "file", c.Path, "users", len(c.Users))
}

// restartSections names the sections of c that differ from started and
// that only a restart applies.
func restartSections(started, c *Config) []string {
	oldAGI, newAGI := started.AGI, c.AGI
	oldAGI.LookupTimeout, newAGI.LookupTimeout = Duration{}, Duration{} // applied live
	var out []string
	for _, k := range []struct {
		name     string
		old, new any
	}{
		{"[agi]", oldAGI, newAGI}, {"[odoo]", started.Odoo, c.Odoo}, {"[pbx]", started.PBX, c.PBX}, {"[[pbx]]", started.PBXs, c.PBXs},
		{"[ami]", started.AMI, c.AMI}, {"[api]", started.API, c.API}, {"[calllog]", started.CallLog, c.CallLog}, {"[log]", started.Log, c.Log},
		{"[web]", started.Web, c.Web}, {"[webrtc]", started.WebRTC, c.WebRTC},
	} {
		if !reflect.DeepEqual(k.old, k.new) {
			out = append(out, k.name)
		}
	}
	return out
}
