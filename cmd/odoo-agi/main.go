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
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/odoo-agi/odoo-agi/dialplan"
	"github.com/odoo-agi/odoo-agi/internal/daemon"
	"github.com/odoo-agi/odoo-agi/lookup"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `odoo-agi connects Asterisk to Odoo.

Usage:
  odoo-agi serve [-config FILE]                run the FastAGI server, the API and the phone page
  odoo-agi demo [-listen ADDR] [-http ADDR]    run against an embedded Odoo emulator with sample calls
  odoo-agi check-config [-config FILE]         validate the config without connecting to anything
  odoo-agi pjsip [-config FILE]                print the pjsip.conf endpoints of the users' softphones
  odoo-agi ping [-config FILE]                 check Odoo (login, rights) and Asterisk (AMI)
  odoo-agi lookup [-config FILE] NUMBER        look a number up as a call would
  odoo-agi call [-config FILE] LOGIN NUMBER    click-to-dial from the shell
  odoo-agi hash-password                       read a password on stdin, print its bcrypt hash for [api]
  odoo-agi version                             print the version

"odoo-agi COMMAND -h" shows a command's arguments and an example.
The config file is -config, else $ODOO_AGI_CONFIG, else ./config.toml, else /etc/odoo-agi/config.toml.
`

// helps are each command's arguments, what it does, and an example.
var helps = map[string]struct{ args, what, example string }{
	"serve": {"[-config FILE]", "Runs the FastAGI server, the control API and the phone page until SIGTERM; SIGHUP reloads the config.",
		"odoo-agi serve -config /etc/odoo-agi/config.toml"},
	"demo": {"[-listen ADDR] [-http ADDR] [-debug]", "Runs odoo-agi against an embedded Odoo 19 and Asterisk manager emulator, plays sample calls, and serves the phone page (sign in as john, password demo).",
		"odoo-agi demo -http 127.0.0.1:48009"},
	"pjsip": {"[-config FILE]", "Prints the pjsip.conf sections for every [[users]] entry with webrtc: the WebSocket transport, then each endpoint (webrtc = yes, rtp_timeout = 10), its auth and its AOR. The output holds the endpoints' passwords.",
		"odoo-agi pjsip > /etc/asterisk/pjsip_odoo.conf"},
	"check-config": {"[-config FILE]", "Reads and validates the config as serve would, without connecting to Odoo or Asterisk. Exits 0 when it is valid, 1 with file:line and the key when not.",
		"odoo-agi check-config -config /etc/odoo-agi/config.toml"},
	"ping": {"[-config FILE]", "Checks Odoo (login, the rights each feature needs) and the Asterisk manager. Exits 1 when a check fails.",
		"odoo-agi ping"},
	"lookup": {"[-config FILE] NUMBER", "Syncs with Odoo (or reads the snapshot) and looks NUMBER up as an incoming call would, showing what Asterisk would get. Exits 1 when the answer is UNAVAILABLE.",
		"odoo-agi lookup '+32 2 555 12 34'"},
	"call": {"[-config FILE] LOGIN NUMBER", "Rings the phones of the [[users]] entry with this Odoo login, then dials NUMBER. Exits 1 unless the call is answered.",
		"odoo-agi call john 0475123456"},
	"hash-password": {"", "Reads one line from standard input and prints the [api] password_hash line for it.",
		"echo 'correct horse battery' | odoo-agi hash-password"},
	"version": {"", "Prints the version: the module version, else the VCS revision and date of the build.", "odoo-agi version"},
}

// newFlags is a command's flag set, whose -h shows the command's help.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		h := helps[name]
		fmt.Fprintf(stderr, "usage: odoo-agi %s %s\n\n%s\n", name, h.args, h.what)
		if strings.Contains(h.args, "-") {
			fmt.Fprintln(stderr, "\nFlags:")
			fs.PrintDefaults()
		}
		fmt.Fprintf(stderr, "\nExample:\n  %s\n", h.example)
	}
	return fs
}

// versionString is the -ldflags version, else the module version, else
// the VCS revision and time that the build info holds.
func versionString() string {
	if version != "dev" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return version
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, at, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev == "" {
		return version
	}
	return fmt.Sprintf("dev-%.12s%s (%s)", rev, dirty, at)
}

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
	case "check-config":
		err = cmdCheckConfig(args[1:], stdout, stderr)
	case "pjsip":
		err = cmdPJSIP(args[1:], stdout, stderr)
	case "hash-password":
		err = cmdHashPassword(args[1:], os.Stdin, stdout, stderr)
	case "version", "-version", "--version":
		if err = newFlags("version", stderr).Parse(args[1:]); err == nil {
			fmt.Fprintln(stdout, "odoo-agi", versionString())
		}
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "odoo-agi: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2 // the flag package said why
	case err != nil:
		fmt.Fprintln(stderr, "odoo-agi:", err)
		return 1
	}
	return 0
}

// errUsage is a command line the flag package refused and explained.
var errUsage = errors.New("usage")

// parse parses a command's flags and checks its argument count.
func parse(fs *flag.FlagSet, args []string, nargs int) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() != nargs {
		fmt.Fprintf(fs.Output(), "odoo-agi %s: want %d argument(s), got %d\n\n", fs.Name(), nargs, fs.NArg())
		fs.Usage()
		return errUsage
	}
	return nil
}

func newLogger(w io.Writer, debug bool) *slog.Logger {
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// configFlag parses "-config FILE" and nargs arguments, and loads the config.
func configFlag(name string, args []string, nargs int, stderr io.Writer) (*daemon.Config, *flag.FlagSet, error) {
	fs := newFlags(name, stderr)
	path := fs.String("config", "", "config file (default $ODOO_AGI_CONFIG, ./config.toml, /etc/odoo-agi/config.toml)")
	if err := parse(fs, args, nargs); err != nil {
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
	c, _, err := configFlag("serve", args, 0, stderr)
	if err != nil {
		return err
	}
	d, err := daemon.New(c, daemon.Options{Logs: stderr, Version: versionString()})
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
	c, fs, err := configFlag("lookup", args, 1, stderr)
	if err != nil {
		return err
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
	pbx := st.PBXs[0] // the first PBX's rules and company
	r := dir.LookupLine(lctx, raw, lookup.Line{Normalizer: &pbx.Normalizer, Company: pbx.Company})
	cancel()
	fmt.Fprintf(stdout, "caller ID  %s\nE.164      %s\nresult     %s", raw, cmp.Or(r.E164, "-"), r.Status)
	if r.Reason != nil {
		fmt.Fprintf(stdout, " (%v)", r.Reason)
	}
	if r.Matches > 1 {
		fmt.Fprintf(stdout, " (%d partners have this number)", r.Matches)
	}
	fmt.Fprintln(stdout, "\n\nAsterisk would get:")
	for _, v := range flows.IncomingVars(st, pbx.Name, r, "", raw) {
		fmt.Fprintf(stdout, "  %-24s %s\n", v.Name, v.Value)
	}
	if r.Status == lookup.Unavailable {
		return fmt.Errorf("no answer: Odoo could not be asked and the snapshot does not hold the number (%v)", r.Reason)
	}
	return nil
}

func cmdCheckConfig(args []string, stdout, stderr io.Writer) error {
	c, _, err := configFlag("check-config", args, 0, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: ok\n", c.Path)
	return nil
}

func cmdPJSIP(args []string, stdout, stderr io.Writer) error {
	c, _, err := configFlag("pjsip", args, 0, stderr)
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, daemon.PJSIP(c))
	return nil
}

func cmdPing(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, _, err := configFlag("ping", args, 0, stderr)
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
