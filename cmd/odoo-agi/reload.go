package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"reflect"
	"syscall"

	"github.com/odoo-agi/odoo-agi/dialplan"
	"github.com/odoo-agi/odoo-agi/lookup"
)

// reloadOnHangup re-reads the config on SIGHUP. Users, caller-ID format,
// timeouts and the log level change at once, without dropping a session;
// an invalid file keeps the running config, with one line that says why.
// It registers for the signal before it returns, so no SIGHUP after
// startup falls to the default action (exit).
func reloadOnHangup(ctx context.Context, running *Config, flows *dialplan.Flows, dir *lookup.Directory, level *slog.LevelVar, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
			}
			running = reload(running, flows, dir, level, log)
		}
	}()
}

// reload applies what can change live and names what needs a restart.
func reload(running *Config, flows *dialplan.Flows, dir *lookup.Directory, level *slog.LevelVar, log *slog.Logger) *Config {
	c, err := loadConfig(running.path)
	if err != nil {
		log.Error("reload: keeping the running config", "err", err)
		return running
	}
	flows.SetSettings(c.settings())
	dir.SetUserLogins(c.users().Logins())
	level.Set(levelOf(c.Debug))
	var restart []string
	oldAGI, newAGI := running.AGI, c.AGI
	oldAGI.LookupTimeout, newAGI.LookupTimeout = duration{}, duration{} // applied live
	for _, k := range []struct {
		name     string
		old, new any
	}{
		{"[agi]", oldAGI, newAGI}, {"[odoo]", running.Odoo, c.Odoo}, {"[pbx]", running.PBX, c.PBX},
		{"[ami]", running.AMI, c.AMI}, {"[api]", running.API, c.API}, {"[calllog]", running.CallLog, c.CallLog}, {"[log]", running.Log, c.Log},
	} {
		if !reflect.DeepEqual(k.old, k.new) {
			restart = append(restart, k.name)
		}
	}
	if len(restart) > 0 {
		log.Warn("reload: applied users, [callerid], timeouts and debug; these sections changed and need a restart", "sections", restart)
	} else {
		log.Info("reload: applied", "file", c.path, "users", len(c.Users))
	}
	c.allow = running.allow
	return c
}
