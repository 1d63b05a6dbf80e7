package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/odoo-agi/odoo-agi/agi"
	"github.com/odoo-agi/odoo-agi/ami"
	"github.com/odoo-agi/odoo-agi/api"
	"github.com/odoo-agi/odoo-agi/calllog"
	"github.com/odoo-agi/odoo-agi/dialplan"
	"github.com/odoo-agi/odoo-agi/lookup"
	"github.com/odoo-agi/odoo-agi/odoo"
)

// amiClient returns the configured manager client, or nil when [ami]
// secret is empty (click-to-dial off).
func amiClient(c *Config, log *slog.Logger) *ami.Client {
	if c.AMI.Secret == "" {
		return nil
	}
	return &ami.Client{Addr: c.AMI.Address, Username: c.AMI.User, Secret: c.AMI.Secret, Logger: log, Trace: c.Debug}
}

// healthDoc is /healthz: the index, AMI and AGI state, no secrets. It is
// not ok while no name can be resolved at all.
func healthDoc(dir *lookup.Directory, mgr *ami.Client, srv *agi.Server, spool *calllog.Spool, d *calllog.Deliverer) (any, bool) {
	st := dir.State()
	status := "ok"
	if st.LastError != "" {
		status = "degraded"
	}
	doc := map[string]any{
		"version": version,
		"index": map[string]any{"numbers": st.Numbers, "partners": st.Partners, "complete": st.Complete,
			"loaded": st.Loaded, "last_sync": st.LastSync, "last_error": st.LastError},
		"agi": map[string]any{"active_sessions": srv.ActiveSessions()},
	}
	if mgr != nil {
		as := mgr.State()
		doc["ami"] = map[string]any{"configured": true, "connected": as.Connected, "since": as.Since, "last_error": as.LastError}
		if !as.Connected {
			status = "degraded"
		}
	} else {
		doc["ami"] = map[string]any{"configured": false}
	}
	if spool != nil {
		ss, ds := spool.Stats(), d.Stats()
		doc["calllog"] = map[string]any{"enabled": true, "pending_bytes": ss.Pending, "spooled": ss.Appended, "dropped": ss.Dropped,
			"delivered": ds.Delivered, "skipped": ds.Skipped, "rejected": ds.Rejected}
	} else {
		doc["calllog"] = map[string]any{"enabled": false}
	}
	if !st.Loaded {
		status = "unavailable"
	}
	doc["status"] = status
	return doc, st.Loaded
}

// startCallLog opens the spool and starts its delivery worker when
// [calllog] enabled is true; otherwise it returns nils.
func startCallLog(ctx context.Context, c *Config, odoo *odoo.Client, dir *lookup.Directory, log *slog.Logger) (*calllog.Spool, *calllog.Deliverer, error) {
	if !c.CallLog.Enabled {
		return nil, nil, nil
	}
	sp, err := calllog.OpenSpool(c.CallLog.SpoolDir, calllog.Options{MaxBytes: int64(c.CallLog.MaxSpoolMB) << 20, Logger: log})
	if err != nil {
		return nil, nil, fmt.Errorf("[calllog] spool_dir %s: %w", c.CallLog.SpoolDir, err)
	}
	unknown, _ := c.unknownPartner()
	d := &calllog.Deliverer{Odoo: odoo, Directory: dir, Config: calllog.Config{
		MissedCallActivity: c.CallLog.MissedCallActivity, ActivityUser: c.CallLog.ActivityUser,
		UnknownPartnerID: unknown, Logger: log}}
	go d.Run(ctx, sp)
	log.Info("call log on", "spool", c.CallLog.SpoolDir, "pending_bytes", sp.Stats().Pending)
	return sp, d, nil
}

// startAPI serves /healthz and /metrics, and the click-to-dial API when
// [api] password_hash is set.
func startAPI(ctx context.Context, c *Config, h *api.Server, log *slog.Logger) error {
	if c.API.Listen == "" {
		log.Info("HTTP listener off ([api] listen is empty): no click-to-dial API, /healthz or /metrics")
		return nil
	}
	if c.API.PasswordHash == "" {
		log.Info("click-to-dial API off until [api] password_hash is set (odoo-agi hash-password); /healthz and /metrics are served")
	}
	ln, err := net.Listen("tcp", c.API.Listen)
	if err != nil {
		return fmt.Errorf("[api] listen %s: %w", c.API.Listen, err)
	}
	if ap, err := netip.ParseAddrPort(ln.Addr().String()); err == nil && !ap.Addr().IsLoopback() && c.API.TLSCert == "" {
		log.Warn("!!! the control API listens beyond loopback without TLS: passwords cross the network in clear; set [api] tls_cert and tls_key !!!", "listen", c.API.Listen)
	}
	go func() {
		if err := api.Serve(ctx, ln, h.Handler(), c.API.TLSCert, c.API.TLSKey, c.Originate.Timeout.Duration+30*time.Second, log); err != nil {
			log.Error("control API stopped", "err", err)
		}
	}()
	log.Info("control API serving", "listen", c.API.Listen, "tls", c.API.TLSCert != "")
	return nil
}

func cmdCall(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, fs, err := configFlag("call", args, stderr)
	if err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return errors.New("usage: odoo-agi call [-config FILE] USER NUMBER")
	}
	log := newLogger(stderr, c.Debug)
	mgr := amiClient(c, log)
	if mgr == nil {
		return errors.New("click-to-dial needs the Asterisk manager: set [ami] address, user and secret")
	}
	// The partner's name for the phone's display: the snapshot, then a live search.
	dir := newDirectory(c, log)
	if _, err := dir.LoadSnapshot(c.Odoo.CacheFile); err != nil {
		log.Debug("no usable index snapshot; the name comes from a live search", "err", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err = mgr.Connect(cctx)
	cancel()
	if err != nil {
		return err
	}
	defer mgr.Close()
	st := c.settings()
	st.LookupTimeout = 5 * time.Second // no synced index here: the name may come from a live search
	orig := &dialplan.Originator{Flows: dialplan.NewFlows(dir, st, log), Normalizer: c.normalizer(), Manager: mgr, Logger: log}
	fmt.Fprintf(stdout, "ringing %s's phones for %s …\n", fs.Arg(0), fs.Arg(1))
	res, err := orig.Call(ctx, dialplan.CallRequest{User: fs.Arg(0), Number: fs.Arg(1)})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %s\n", res.Status, res.Detail)
	if res.Status != dialplan.Answered {
		return errors.New("the call was not answered")
	}
	return nil
}

func cmdHashPassword(stdin io.Reader, stdout, stderr io.Writer) error {
	fmt.Fprintln(stderr, "password for [api] (read from standard input, one line):")
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	h, err := api.HashPassword(strings.TrimRight(line, "\r\n"))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "password_hash = %q\n", h)
	return nil
}

// pingAMI logs in, pings and asks the version; one line per check.
func pingAMI(ctx context.Context, c *Config, stdout io.Writer) bool {
	mgr := amiClient(c, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if mgr == nil {
		fmt.Fprintln(stdout, "skip asterisk: [ami] secret is not set (click-to-dial off)")
		return true
	}
	t0 := time.Now()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := mgr.Connect(cctx); err != nil {
		fmt.Fprintf(stdout, "FAIL asterisk login: %v\n", err)
		return false
	}
	defer mgr.Close()
	if err := mgr.Ping(cctx); err != nil {
		fmt.Fprintf(stdout, "FAIL asterisk ping: %v\n", err)
		return false
	}
	fmt.Fprintf(stdout, "ok   asterisk manager login and ping as %q at %s (%v)\n", c.AMI.User, c.AMI.Address, time.Since(t0).Round(time.Millisecond))
	if out, err := mgr.Command(cctx, "core show version"); err == nil && len(out) > 0 {
		fmt.Fprintf(stdout, "ok   %s\n", out[0])
	}
	return true
}
