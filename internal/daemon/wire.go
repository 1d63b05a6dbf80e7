package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/odoo-agi/odoo-agi/ami"
	"github.com/odoo-agi/odoo-agi/calllog"
	"github.com/odoo-agi/odoo-agi/dialplan"
	"github.com/odoo-agi/odoo-agi/lookup"
	"github.com/odoo-agi/odoo-agi/odoo"
)

// The parts, built from the config. New wires them into a Daemon; the
// one-shot commands (lookup, ping, call) build only what they need.

// OdooClient is the Odoo client for [odoo]. Its calls are traced at debug
// level while the logger is enabled for it.
func (c *Config) OdooClient(log *slog.Logger) *odoo.Client {
	return odoo.New(odoo.Config{URL: c.Odoo.URL, DB: c.Odoo.DB, User: c.Odoo.User, Password: c.Odoo.Password,
		APIKey: c.Odoo.APIKey, API: c.Odoo.API, Timeout: c.Odoo.Timeout.Duration, Logger: log, Trace: true})
}

// Directory is the partner index for [odoo] and [pbx].
func (c *Config) Directory(o lookup.Odoo, log *slog.Logger) *lookup.Directory {
	return lookup.NewDirectory(lookup.Config{
		Normalizer:       c.normalizer(),
		IndexSize:        c.Odoo.IndexSize,
		RefreshInterval:  c.Odoo.RefreshInterval.Duration,
		FullSyncInterval: c.Odoo.FullSync.Duration,
		LiveSearches:     c.Odoo.LiveSearches,
		CacheFile:        c.Odoo.CacheFile,
		UserLogins:       c.users().Logins(),
		Logger:           log,
	}, o)
}

// AMIClient is the first PBX's manager client, or nil when it has no
// secret (click-to-dial off).
func (c *Config) AMIClient(log *slog.Logger) *ami.Client {
	if ms := c.ManagerClients(log); len(ms) > 0 && ms[0].PBX == c.pbxList()[0].Name {
		return ms[0].Client
	}
	return nil
}

// Originator places click-to-dial calls with flows' settings through mgr,
// which may be nil (click-to-dial off).
func (c *Config) Originator(flows *dialplan.Flows, mgr *ami.Client, log *slog.Logger) *dialplan.Originator {
	var m dialplan.Manager = noManager{}
	if mgr != nil {
		m = mgr
	}
	return &dialplan.Originator{Settings: flows.Settings, Directory: flows.Directory, Normalizer: c.normalizer(), Manager: m, Logger: log}
}

// noManager answers every Originate with ErrNotConnected.
type noManager struct{}

func (noManager) Originate(context.Context, ami.Originate) (ami.OriginateResult, error) {
	return ami.OriginateResult{}, fmt.Errorf("%w: click-to-dial is off ([ami] secret is not set)", ami.ErrNotConnected)
}

// Normalizer reads numbers by [pbx].
func (c *Config) Normalizer() lookup.Normalizer { return c.normalizer() }

// Settings are the flows' settings: what a reload applies live.
func (c *Config) Settings() dialplan.Settings { return c.settings() }

// callLog opens the spool, the spool of calls retried on their own
// (spool_dir/retry), and builds their deliverer.
func (c *Config) callLog(o calllog.Odoo, dir calllog.Directory, log *slog.Logger) (sp, retry *calllog.Spool, d *calllog.Deliverer, err error) {
	opts := calllog.Options{MaxBytes: int64(c.CallLog.MaxSpoolMB) << 20, Logger: log}
	if sp, err = calllog.OpenSpool(c.CallLog.SpoolDir, opts); err != nil {
		return nil, nil, nil, fmt.Errorf("[calllog] spool_dir %s: %w", c.CallLog.SpoolDir, err)
	}
	if retry, err = calllog.OpenSpool(filepath.Join(c.CallLog.SpoolDir, "retry"), opts); err != nil {
		sp.Close()
		return nil, nil, nil, fmt.Errorf("[calllog] spool_dir %s: %w", c.CallLog.SpoolDir, err)
	}
	unknown, _ := c.unknownPartner()
	d = &calllog.Deliverer{Odoo: o, Directory: dir, Config: calllog.Config{
		MissedCallActivity: c.CallLog.MissedCallActivity, ActivityUser: c.CallLog.ActivityUser,
		UnknownPartnerID: unknown, Logger: log, RecordingURL: c.recordingURL, Workers: c.CallLog.Workers}}
	if cl := c.Cluster; len(cl.Peers) > 0 {
		d.Claims = &calllog.Claims{Self: cl.Name, Peers: cl.Peers, Secret: cl.Secret, Logger: log}
	}
	return sp, retry, d, nil
}

// recordingURL is the page's address of a call's recording, when [web]
// public_url and [recordings] dir are set and the file is there.
func (c *Config) recordingURL(linkedID string) string {
	if c.Web.PublicURL == "" || c.Recordings.Dir == "" || strings.ContainsAny(linkedID, "/\\") {
		return ""
	}
	if st, err := os.Stat(filepath.Join(c.Recordings.Dir, linkedID+".wav")); err != nil || !st.Mode().IsRegular() {
		return ""
	}
	return strings.TrimRight(c.Web.PublicURL, "/") + "/recordings/" + url.PathEscape(linkedID)
}

// odooLinkBase is where users reach Odoo: [web] odoo_url, else [odoo] url
// without its user info.
func (c *Config) odooLinkBase() string {
	if c.Web.OdooURL != "" {
		return strings.TrimRight(c.Web.OdooURL, "/")
	}
	u, err := url.Parse(c.Odoo.URL)
	if err != nil {
		return ""
	}
	u.User = nil
	return strings.TrimRight(u.String(), "/")
}
