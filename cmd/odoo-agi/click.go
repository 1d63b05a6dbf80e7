package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/odoo-agi/odoo-agi/api"
	"github.com/odoo-agi/odoo-agi/dialplan"
)

func cmdCall(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, fs, err := configFlag("call", args, 2, stderr)
	if err != nil {
		return err
	}
	log := newLogger(stderr, c.Debug)
	mgr := c.AMIClient(log)
	if mgr == nil {
		return errors.New("click-to-dial needs the Asterisk manager: set [ami] address, user and secret")
	}
	// The partner's name for the phone's display: the snapshot, then a live search.
	dir := c.Directory(c.OdooClient(log), log)
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
	st := c.Settings()
	st.LookupTimeout = 5 * time.Second // no synced index here: the name may come from a live search
	orig := c.Originator(dialplan.NewFlows(dir, st, log), mgr, log)
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

func cmdHashPassword(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if err := parse(newFlags("hash-password", stderr), args, 0); err != nil {
		return err
	}
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
