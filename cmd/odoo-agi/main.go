// Command odoo-agi connects Asterisk to Odoo: a FastAGI server that names
// callers from Odoo contacts. Run "odoo-agi demo" to see it work.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/odoo-agi/odoo-agi/agi"
	"github.com/odoo-agi/odoo-agi/ami"
	"github.com/odoo-agi/odoo-agi/api"
	"github.com/odoo-agi/odoo-agi/dialplan"
	"github.com/odoo-agi/odoo-agi/lookup"
	"github.com/odoo-agi/odoo-agi/odoo"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `odoo-agi connects Asterisk to Odoo.

Usage:
  odoo-agi serve [-config FILE]        run the FastAGI server
  odoo-agi demo [-listen ADDR]         run against an embedded Odoo emulator with sample calls
  odoo-agi lookup [-config FILE] NUMBER  look a number up as a call would
  odoo-agi ping [-config FILE]         check Odoo (login, read access to contacts) and Asterisk (AMI)
  odoo-agi call [-config FILE] USER NUMBER  click-to-dial from the shell
  odoo-agi hash-password               read a password on stdin, print its bcrypt hash for [api]
  odoo-agi version                     print the version

The config file is -config, else $ODOO_AGI_CONFIG, else ./config.toml, else /etc/odoo-agi/config.toml.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch args[0] {
	case "serve":
		err = cmdServe(ctx, args[1:], stderr)
	case "demo":
		err = cmdDemo(ctx, args[1:], stdout, stderr)
	case "lookup":
		err = cmdLookup(ctx, args[1:], stdout, stderr)
	case "ping":
		err = cmdPing(ctx, args[1:], stdout, stderr)
	case "call":
		err = cmdCall(ctx, args[1:], stdout, stderr)
	case "hash-password":
		err = cmdHashPassword(os.Stdin, stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "odoo-agi", version)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "odoo-agi: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "odoo-agi:", err)
		return 1
	}
	return 0
}

func newLogger(w io.Writer, debug bool) *slog.Logger {
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// serveLogger is the daemon's logger: text or JSON ([log] format), with
// a level that a reload can change.
func serveLogger(w io.Writer, c *Config, level *slog.LevelVar) *slog.Logger {
	level.Set(levelOf(c.Debug))
	opts := &slog.HandlerOptions{Level: level}
	if c.Log.Format == "json" {
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

// configFlag parses "-config FILE" and loads it.
func configFlag(name string, args []string, stderr io.Writer) (*Config, *flag.FlagSet, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "config file")
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	p, err := findConfig(*path)
	if err != nil {
		return nil, nil, err
	}
	c, err := loadConfig(p)
	return c, fs, err
}

// warnings are logged at every start.
func warnings(c *Config, log *slog.Logger) {
	if c.Odoo.Password == "asterisk1" {
		log.Warn("!!! [odoo] password is still the default \"asterisk1\": anyone who knows the default can read your contacts. Change it in Odoo and in " + c.path + " !!!")
	}
	if st, err := os.Stat(c.path); err == nil && st.Mode().Perm()&0o004 != 0 {
		log.Warn("the config file can be read by every user on this machine, and it holds the Odoo password; run: chmod 640 "+c.path, "mode", st.Mode().Perm().String())
	}
}

func newOdooClient(c *Config, log *slog.Logger) *odoo.Client {
	return odoo.New(odoo.Config{URL: c.Odoo.URL, DB: c.Odoo.DB, User: c.Odoo.User, Password: c.Odoo.Password,
		Timeout: c.Odoo.Timeout.Duration, Logger: log, Trace: c.Debug})
}

func newDirectory(c *Config, log *slog.Logger) *lookup.Directory {
	return newDirectoryWith(c, newOdooClient(c, log), log)
}

func newDirectoryWith(c *Config, odoo *odoo.Client, log *slog.Logger) *lookup.Directory {
	return lookup.NewDirectory(lookup.Config{
		Normalizer:      c.normalizer(),
		IndexSize:       c.Odoo.IndexSize,
		RefreshInterval: c.Odoo.RefreshInterval.Duration,
		CacheFile:       c.Odoo.CacheFile,
		UserLogins:      c.users().Logins(),
		Logger:          log,
	}, odoo)
}

func newAGIServer(c *Config, flows *dialplan.Flows, log *slog.Logger) *agi.Server {
	mux := agi.NewServeMux()
	flows.Register(mux)
	return &agi.Server{
		Addr:        c.AGI.Listen,
		Handler:     mux,
		Allow:       c.allow,
		MaxSessions: c.AGI.MaxSessions,
		Logger:      log,
		Trace:       c.Debug,
	}
}

func cmdServe(ctx context.Context, args []string, stderr io.Writer) error {
	c, _, err := configFlag("serve", args, stderr)
	if err != nil {
		return err
	}
	level := new(slog.LevelVar)
	log := serveLogger(stderr, c, level)
	warnings(c, log)
	m := newMetrics()
	odoo := newOdooClient(c, log)
	odoo.Calls = m.odooCall
	dir := newDirectoryWith(c, odoo, log)
	go dir.Run(ctx)
	flows := dialplan.NewFlows(dir, c.settings(), log)
	spool, deliverer, err := startCallLog(ctx, c, odoo, dir, log)
	if err != nil {
		return err
	}
	if spool != nil {
		defer spool.Close()
		flows.Recorder = spool
	}
	srv := newAGIServer(c, flows, log)
	mgr := amiClient(c, log)
	if mgr != nil {
		go mgr.Run(ctx)
	} else {
		log.Info("click-to-dial off: set [ami] secret to enable it")
	}
	m.watch(dir, mgr, spool, deliverer)
	srv.OnSessionEnd = m.session
	h := &api.Server{User: c.API.User, PasswordHash: c.API.PasswordHash, Logger: log, Metrics: m.handler(),
		Caller: &dialplan.Originator{Flows: flows, Normalizer: c.normalizer(), Manager: managerOrNone(mgr), Logger: log},
		Health: func() (any, bool) { return healthDoc(dir, mgr, srv, spool, deliverer) }}
	if err := startAPI(ctx, c, h, log); err != nil {
		return err
	}
	reloadOnHangup(ctx, c, flows, dir, level, log)
	return serveUntil(ctx, srv, log)
}

// serveUntil runs srv until ctx ends, then shuts down gracefully.
func serveUntil(ctx context.Context, srv *agi.Server, log *slog.Logger) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("odoo-agi serving FastAGI", "listen", orDefault(srv.Addr, agi.DefaultAddr), "version", version)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down; waiting for calls in progress")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("closed calls still in progress at shutdown", "err", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, agi.ErrServerClosed) {
		return err
	}
	return nil
}

func cmdLookup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, fs, err := configFlag("lookup", args, stderr)
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: odoo-agi lookup [-config FILE] NUMBER")
	}
	log := newLogger(stderr, c.Debug)
	dir := newDirectory(c, log)
	if n, err := dir.LoadSnapshot(c.Odoo.CacheFile); err != nil {
		log.Warn("ignoring the index snapshot", "err", err)
	} else if n > 0 {
		log.Info("loaded the index snapshot", "partners", n)
	}
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	if err := dir.Sync(sctx); err != nil {
		log.Warn("could not sync with Odoo; answering from the snapshot, if any", "err", err)
	}
	cancel()
	flows := dialplan.NewFlows(dir, c.settings(), log)
	st := flows.Settings()
	raw := fs.Arg(0)
	lctx, cancel := context.WithTimeout(ctx, st.LookupTimeout)
	r := dir.Lookup(lctx, raw)
	cancel()
	fmt.Fprintf(stdout, "caller ID  %s\nE.164      %s\nresult     %s", raw, orDefault(r.E164, "-"), r.Status)
	if r.Reason != nil {
		fmt.Fprintf(stdout, " (%v)", r.Reason)
	}
	if r.Matches > 1 {
		fmt.Fprintf(stdout, " (%d partners have this number)", r.Matches)
	}
	fmt.Fprintln(stdout, "\n\nAsterisk would get:")
	for _, v := range flows.IncomingVars(st, r, "", raw) {
		fmt.Fprintf(stdout, "  %-24s %s\n", v.Name, v.Value)
	}
	return nil
}

func cmdPing(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, _, err := configFlag("ping", args, stderr)
	if err != nil {
		return err
	}
	log := newLogger(io.Discard, false)
	odoo := odoo.New(odoo.Config{URL: c.Odoo.URL, DB: c.Odoo.DB, User: c.Odoo.User, Password: c.Odoo.Password, Timeout: 10 * time.Second, Logger: log})
	failed := 0
	t0 := time.Now()
	if uid, err := odoo.Login(ctx); err != nil {
		fmt.Fprintf(stdout, "FAIL odoo login: %v\n", err)
		failed++
	} else {
		fmt.Fprintf(stdout, "ok   odoo login as %q on db %q (uid %d, %v)\n", c.Odoo.User, c.Odoo.DB, uid, time.Since(t0).Round(time.Millisecond))
		t0 = time.Now()
		res, err := odoo.Execute(ctx, "res.partner", "search_count", []any{[]any{}}, nil)
		if err != nil {
			fmt.Fprintf(stdout, "FAIL odoo read contacts: %v\n", err)
			failed++
		} else {
			fmt.Fprintf(stdout, "ok   odoo read contacts (%v active, %v)\n", res, time.Since(t0).Round(time.Millisecond))
		}
	}
	if c.Odoo.Password == "asterisk1" {
		fmt.Fprintln(stdout, "WARN [odoo] password is the default \"asterisk1\": change it")
	}
	if !pingAMI(ctx, c, stdout) {
		failed++
	}
	if failed > 0 {
		return errors.New("ping failed")
	}
	return nil
}

// managerOrNone keeps a nil *ami.Client from becoming a non-nil interface.
func managerOrNone(c *ami.Client) dialplan.Manager {
	if c == nil {
		return noManager{}
	}
	return c
}

type noManager struct{}

func (noManager) Originate(context.Context, ami.Originate) (ami.OriginateResult, error) {
	return ami.OriginateResult{}, fmt.Errorf("%w: click-to-dial is off ([ami] secret is not set)", ami.ErrNotConnected)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
