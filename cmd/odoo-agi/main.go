// Command odoo-agi connects Asterisk to Odoo: a FastAGI server that names
// callers from Odoo contacts. Run "odoo-agi demo" to see it work.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/odoo-agi/odoo-agi/dialplan"
	"github.com/odoo-agi/odoo-agi/internal/daemon"
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

// configFlag parses "-config FILE" and loads it.
func configFlag(name string, args []string, stderr io.Writer) (*daemon.Config, *flag.FlagSet, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "config file")
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	p, err := daemon.FindConfig(*path)
	if err != nil {
		return nil, nil, err
	}
	c, err := daemon.LoadConfig(p)
	return c, fs, err
}

func cmdServe(ctx context.Context, args []string, stderr io.Writer) error {
	c, _, err := configFlag("serve", args, stderr)
	if err != nil {
		return err
	}
	d, err := daemon.New(c, daemon.Options{Logs: stderr, Version: version})
	if err != nil {
		return err
	}
	reloadOnHangup(ctx, d)
	return d.Run(ctx)
}

// reloadOnHangup re-reads the config on SIGHUP, as systemctl reload sends.
// It registers for the signal before it returns, so no SIGHUP after start
// falls to the default action (exit).
func reloadOnHangup(ctx context.Context, d *daemon.Daemon) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				d.ReloadFile()
			}
		}
	}()
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
	dir := c.Directory(c.OdooClient(log), log)
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
	flows := dialplan.NewFlows(dir, c.Settings(), log)
	st := flows.Settings()
	raw := fs.Arg(0)
	lctx, cancel := context.WithTimeout(ctx, st.LookupTimeout)
	r := dir.Lookup(lctx, raw)
	cancel()
	fmt.Fprintf(stdout, "caller ID  %s\nE.164      %s\nresult     %s", raw, cmp.Or(r.E164, "-"), r.Status)
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
	failed := false
	for _, ch := range daemon.Ping(ctx, c) {
		switch {
		case ch.Name == "warning":
			fmt.Fprintf(stdout, "WARN %s\n", ch.Detail)
		case ch.OK:
			fmt.Fprintf(stdout, "ok   %s\n", strings.TrimSpace(ch.Name+" "+ch.Detail))
		default:
			fmt.Fprintf(stdout, "FAIL %s: %s\n", ch.Name, ch.Detail)
			failed = true
		}
	}
	if failed {
		return errors.New("ping failed")
	}
	return nil
}
