// Package daemon wires odoo-agi together. From one Config it builds the
// Odoo client, the directory, the call flows, the FastAGI server, the
// manager client, the call log, the control API and the metrics, and runs
// them as one process. `odoo-agi serve`, `odoo-agi demo` and the load
// generator all use it, so what they run and measure is what runs in
// production; they differ only in where Odoo and Asterisk are.
//
// It owns the config file's types and validation, and decides nothing about
// calls: that is package dialplan.
package daemon

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"github.com/odoo-agi/odoo-agi/contact"
	"github.com/odoo-agi/odoo-agi/history"
	"github.com/odoo-agi/odoo-agi/sipws"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/odoo-agi/odoo-agi/agi"
	"github.com/odoo-agi/odoo-agi/ami"
	"github.com/odoo-agi/odoo-agi/api"
	"github.com/odoo-agi/odoo-agi/calllog"
	"github.com/odoo-agi/odoo-agi/dialplan"
	"github.com/odoo-agi/odoo-agi/lookup"
	"github.com/odoo-agi/odoo-agi/odoo"
)

// Options say where a Daemon logs and, for the demo and tests, which
// listeners it serves instead of the configured addresses.
type Options struct {
	Logs        io.Writer    // os.Stderr when nil
	AGIListener net.Listener // serve FastAGI here instead of [agi] listen
	APIListener net.Listener // serve HTTP here instead of [api] listen
	Version     string
}

// Daemon is odoo-agi, wired. Build it with New, then Run it.
type Daemon struct {
	Log        *slog.Logger
	Odoo       *odoo.Client
	Directory  *lookup.Directory
	Flows      *dialplan.Flows
	AGI        *agi.Server
	AMI        *ami.Client // the first PBX's manager; nil when no PBX has a secret
	Managers   []Manager   // every PBX's manager, in config order
	Originator *dialplan.Originator
	Spool      *calllog.Spool // nil when the call log is off
	Retry      *calllog.Spool // calls retried on their own
	Deliverer  *calllog.Deliverer
	Live       *dialplan.Live // the phone page's calls; nil when it is off
	SIP        *sipws.Relay   // the softphone's signalling; nil without [webrtc]
	History    *history.Store // the users' calls on disk; nil without [history] file

	version string
	level   *slog.LevelVar
	metrics *metrics
	api     *api.Server
	agiLn   net.Listener
	apiLn   net.Listener

	mu      sync.Mutex
	started *Config // what the sections that need a restart run with
	running atomic.Pointer[Config]
}

// New builds the daemon and opens its listeners and spool, so that a bad
// address, certificate or spool directory is an error before anything
// serves. Close what New opened by running the daemon, or with Close.
func New(c *Config, o Options) (_ *Daemon, err error) {
	logs := o.Logs
	if logs == nil {
		logs = os.Stderr
	}
	d := &Daemon{version: cmp.Or(o.Version, "dev"), level: new(slog.LevelVar), started: c, agiLn: o.AGIListener, apiLn: o.APIListener}
	d.running.Store(c)
	d.Log = NewLogger(logs, c.Log.Format, d.level)
	d.level.Set(levelOf(c.Debug))
	warnings(c, d.Log)
	defer func() {
		if err != nil {
			d.Close()
		}
	}()

	mux := agi.NewServeMux()
	d.metrics = newMetrics(func(script string) bool { return mux.Handler(script) != nil })
	d.Odoo = c.OdooClient(d.Log)
	d.Odoo.Calls = d.metrics.odooCall
	d.Directory = c.Directory(d.Odoo, d.Log)
	d.Flows = dialplan.NewFlows(d.Directory, c.settings(), d.Log)
	d.Flows.Register(mux)
	d.AGI = &agi.Server{Addr: c.AGI.Listen, Handler: mux, Allow: c.allow, MaxSessions: c.AGI.MaxSessions,
		Logger: d.Log, Trace: true, OnSessionEnd: d.metrics.session}
	if c.CallLog.Enabled {
		if d.Spool, d.Retry, d.Deliverer, err = c.callLog(d.Odoo, d.Directory, d.Log); err != nil {
			return nil, err
		}
		d.Flows.Recorder = d.Spool
	}
	d.Managers = c.ManagerClients(d.Log)
	if len(d.Managers) > 0 {
		d.AMI = d.Managers[0].Client
	}
	d.Originator = c.Originator(d.Flows, d.AMI, d.Log)
	if len(c.PBXs) > 0 {
		d.Originator.Managers = map[string]dialplan.Manager{}
		for _, m := range d.Managers {
			d.Originator.Managers[m.PBX] = m.Client
		}
	}
	d.Originator.LogCalls = d.Spool != nil
	if d.agiLn == nil {
		if d.agiLn, err = net.Listen("tcp", c.AGI.Listen); err != nil {
			return nil, fmt.Errorf("[agi] listen %s: %w (is another odoo-agi running?)", c.AGI.Listen, err)
		}
	}
	if err := d.openAPI(c); err != nil {
		return nil, err
	}
	d.metrics.watch(d.Flows, d.Directory, d.Managers, d.Spool, d.Retry, d.Deliverer)
	return d, nil
}

// openAPI builds the control API and opens its listener, unless [api]
// listen is empty. Certificates are loaded here, before anything serves.
func (d *Daemon) openAPI(c *Config) error {
	if c.API.Listen == "" && d.apiLn == nil {
		d.Log.Info("HTTP listener off ([api] listen is empty): no click-to-dial API, /healthz or /metrics")
		return nil
	}
	d.api = &api.Server{User: c.API.User, PasswordHash: c.API.PasswordHash, Logger: d.Log, Metrics: d.metrics.handler(),
		Caller: d.Originator, Health: d.health, TrustedProxies: c.proxies,
		CallTimeout: func() time.Duration { return d.Flows.Settings().OriginateTimeout + 30*time.Second }}
	if d.Deliverer != nil && d.Deliverer.Claims != nil {
		d.api.Cluster = d.Deliverer.Claims
	}
	if c.Web.Enabled {
		d.Live = &dialplan.Live{Flows: d.Flows, Logger: d.Log}
		if c.History.File != "" {
			st, err := history.Open(c.History.File, history.Options{Keep: c.History.Keep.Duration, Logger: d.Log})
			if err != nil {
				return fmt.Errorf("[history] file: %w", err)
			}
			d.History = st
			d.Live.Store = st
		}
		d.Flows.Live = d.Live
		d.api.Web = &api.Web{
			Users:       func() dialplan.Users { return d.Flows.Settings().Users },
			Auth:        d.Odoo,
			Directory:   d.Directory,
			Normalizer:  c.Normalizer(),
			Live:        d.Live,
			OdooURL:     c.odooLinkBase(),
			SessionTTL:  c.Web.SessionTTL.Duration,
			ConfirmDial: c.Web.ConfirmDial,
			Recheck:     c.Web.Recheck.Duration,
			Ping:        func(ctx context.Context) []api.Check { return Ping(ctx, d.Config()) },
			Contacts:    &contact.Maker{Odoo: d.Odoo, Index: d.Directory, Logger: d.Log},
			Recordings:  c.Recordings.Dir,
			Companies:   c.companies(),
		}
		if ws := c.WebRTC.AsteriskWS; ws != "" {
			d.SIP = &sipws.Relay{Upstream: ws, Logger: d.Log}
			d.api.Web.Softphone = d.SIP
			d.api.Web.SIPDomain = c.sipDomain()
			d.metrics.reg.MustRegister(sipCollector{d.SIP})
		}
	}
	if c.API.TLSCert != "" {
		var err error
		if d.api.TLS, err = api.LoadTLS(c.API.TLSCert, c.API.TLSKey); err != nil {
			return err
		}
	}
	if d.apiLn == nil {
		var err error
		if d.apiLn, err = net.Listen("tcp", c.API.Listen); err != nil {
			return fmt.Errorf("[api] listen %s: %w", c.API.Listen, err)
		}
	}
	if c.API.PasswordHash == "" {
		d.Log.Info("click-to-dial API off until [api] password_hash is set (odoo-agi hash-password); /healthz and /metrics are served")
	}
	if ap, err := netip.ParseAddrPort(d.apiLn.Addr().String()); err == nil && !ap.Addr().IsLoopback() && d.api.TLS == nil {
		d.Log.Warn("!!! the control API listens beyond loopback without TLS: passwords cross the network in clear; set [api] tls_cert and tls_key !!!", "listen", c.API.Listen)
	}
	return nil
}

// AGIAddr is the address FastAGI is served on.
func (d *Daemon) AGIAddr() string { return d.agiLn.Addr().String() }

// APIAddr is the address of the HTTP listener, or "" when it is off.
func (d *Daemon) APIAddr() string {
	if d.apiLn == nil {
		return ""
	}
	return d.apiLn.Addr().String()
}

// Run serves until ctx ends, then shuts down gracefully: FastAGI sessions
// in progress get 10 s to finish. It returns an error, at once, when a
// listener dies, so that the service manager can restart the process.
func (d *Daemon) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	goRun := func(f func()) { wg.Add(1); go func() { defer wg.Done(); f() }() }
	goRun(func() { d.Directory.Run(ctx) })
	if c := d.started; c.Recordings.Dir != "" {
		goRun(func() { keepRecordings(ctx, d.Log, c.Recordings.Dir, c.Recordings.Keep.Duration) })
	}
	for _, m := range d.Managers {
		goRun(func() { m.Client.Run(ctx) })
		if d.Live != nil {
			events := m.Client.Subscribe(ctx, "DialBegin", "DialEnd", "Hangup")
			goRun(func() { d.Live.Run(ctx, m.PBX, events) })
		}
	}
	if len(d.Managers) == 0 {
		d.Log.Info("click-to-dial off: set [ami] secret to enable it")
	}
	if d.Deliverer != nil {
		goRun(func() { d.Deliverer.Run(ctx, d.Spool, d.Retry) })
		d.Log.Info("call log on", "spool", d.running.Load().CallLog.SpoolDir, "pending_bytes", d.Spool.Stats().Pending)
	}
	failed := make(chan error, 2)
	if d.api != nil {
		goRun(func() {
			if err := d.api.Serve(ctx, d.apiLn); err != nil {
				failed <- fmt.Errorf("control API stopped: %w", err)
			}
		})
		d.Log.Info("control API serving", "listen", d.APIAddr(), "tls", d.api.TLS != nil)
	}
	agiDone := make(chan error, 1)
	go func() { agiDone <- d.AGI.Serve(d.agiLn) }()
	d.Log.Info("odoo-agi serving FastAGI", "listen", d.AGIAddr(), "version", d.version)

	var err error
	agiStopped := false
	select {
	case <-ctx.Done():
	case err = <-failed:
	case aerr := <-agiDone:
		err, agiStopped = fmt.Errorf("FastAGI stopped: %w", aerr), true
	}
	if err != nil {
		d.Log.Error("a listener died; exiting so the service manager restarts odoo-agi", "err", err)
	} else {
		d.Log.Info("shutting down; waiting for calls in progress")
	}
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	if serr := d.AGI.Shutdown(sctx); serr != nil {
		d.Log.Warn("closed calls still in progress at shutdown", "err", serr)
	}
	scancel()
	if !agiStopped {
		if aerr := <-agiDone; !errors.Is(aerr, agi.ErrServerClosed) && err == nil {
			err = fmt.Errorf("FastAGI stopped: %w", aerr)
		}
	}
	cancel()
	wg.Wait()
	d.Close()
	return err
}

// Close releases what New opened: the listeners and the spool. Run calls it.
func (d *Daemon) Close() {
	for _, ln := range []net.Listener{d.agiLn, d.apiLn} {
		if ln != nil {
			ln.Close()
		}
	}
	for _, sp := range []*calllog.Spool{d.Spool, d.Retry} {
		if sp != nil {
			sp.Close()
		}
	}
	for _, m := range d.Managers {
		m.Client.Close()
	}
	if d.History != nil {
		d.History.Close()
	}
}

// Config returns the running config, as last reloaded.
func (d *Daemon) Config() *Config { return d.running.Load() }

// NewLogger returns a text or JSON ([log] format) logger at level.
func NewLogger(w io.Writer, format string, level slog.Leveler) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func levelOf(debug bool) slog.Level {
	if debug {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// warnings are logged at every start.
func warnings(c *Config, log *slog.Logger) {
	if c.Odoo.Password == "asterisk1" && c.Odoo.APIKey == "" {
		log.Warn("!!! [odoo] password is still the default \"asterisk1\": anyone who knows the default can read your contacts. Change it in Odoo and in " + c.Path + " !!!")
	}
	if c.wideOpen() {
		log.Warn("!!! FastAGI has no authentication: [agi] listen is beyond loopback and [agi] allow admits other hosts; anyone they let through can query contacts and log calls. Firewall port "+c.AGI.Listen+" to your Asterisk servers only !!!",
			"listen", c.AGI.Listen, "allow", c.AGI.Allow)
	}
	if st, err := os.Stat(c.Path); err == nil && st.Mode().Perm()&0o004 != 0 {
		log.Warn("the config file can be read by every user on this machine, and it holds the Odoo password; run: chmod 640 "+c.Path, "mode", st.Mode().Perm().String())
	}
}
