package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/odoo-agi/odoo-agi/agi/agitest"
	"github.com/odoo-agi/odoo-agi/ami/amitest"
	"github.com/odoo-agi/odoo-agi/dialplan"
	"github.com/odoo-agi/odoo-agi/internal/daemon"
	"github.com/odoo-agi/odoo-agi/odoo/odootest"
)

// benchOrg is one odoo-agi for a whole organisation: pbxs Asterisks
// (manager emulators, FastAGI peers from 127.0.0.1, .2, …), users
// subscribed to their calls as their pages are, and rate calls a second
// in all. Each call is what the snippet and Asterisk make of it: the
// incoming FastAGI lookup, DialBegin to a user's phone, Hangup, and the
// hangup FastAGI session whose note the call log posts. It reports the
// lookup and card latencies, the call log's progress and the CPU used
// (the emulators and this load included).
func benchOrg(partners, pbxs, users, rate int, d time.Duration) {
	o := odootest.New()
	odooURL, err := o.Start()
	must(err)
	defer o.Close()
	branch := o.AddCompany("Branch")
	o.SetCompanies("asterisk1", 1, branch)
	known := seed(o, partners)
	c := daemon.DefaultConfig()
	c.Path = "(bench)"
	c.Odoo.URL, c.Odoo.CacheFile = odooURL, ""
	c.AGI.MaxSessions = 10000
	c.CallLog.Enabled, c.CallLog.SpoolDir = true, must2(os.MkdirTemp("", "odoo-agi-bench-spool"))
	defer os.RemoveAll(c.CallLog.SpoolDir)
	mgrs := make([]*amitest.Server, pbxs)
	for i := range pbxs {
		mgrs[i] = amitest.New()
		addr, err := mgrs[i].Start()
		must(err)
		defer mgrs[i].Stop()
		company := 1 + i%2
		if company == 2 {
			company = branch
		}
		c.PBXs = append(c.PBXs, daemon.PBXConfig{Name: fmt.Sprintf("pbx%d", i), Country: "BE", InternalMaxDigits: 6, DialFormat: "national",
			Company: company, AGIAllow: []string{fmt.Sprintf("127.0.0.%d", i+1)}, AMIAddress: addr, AMIUser: "odoo", AMISecret: "secret"})
	}
	for u := range users {
		o.AddUser(fmt.Sprintf("user%d", u), fmt.Sprintf("User %d", u))
		o.SetPassword(fmt.Sprintf("user%d", u), "page-password")
		c.Users = append(c.Users, daemon.UserConfig{Login: fmt.Sprintf("user%d", u), Exten: fmt.Sprint(1000 + u/pbxs),
			PBX: fmt.Sprintf("pbx%d", u%pbxs), Channels: []daemon.ChannelConfig{{Name: fmt.Sprintf("PJSIP/%d", 1000+u/pbxs), Originate: true}}})
	}
	must(c.Validate())
	agiLn := must2(net.Listen("tcp", "127.0.0.1:0"))
	apiLn := must2(net.Listen("tcp", "127.0.0.1:0"))
	dm, err := daemon.New(c, daemon.Options{Logs: io.Discard, AGIListener: agiLn, APIListener: apiLn})
	must(err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- dm.Run(ctx) }()
	defer func() { cancel(); <-done }()
	<-dm.Directory.Synced()
	for _, m := range dm.Managers {
		for !m.Client.State().Connected {
			time.Sleep(10 * time.Millisecond)
		}
	}

	// The pages: each user signed in over HTTP, with its event stream open.
	var mu sync.Mutex
	emitted := map[string]time.Time{}
	var cards []time.Duration
	base := "http://" + apiLn.Addr().String()
	t0 := time.Now()
	for u := range users {
		body := signedInStream(base, fmt.Sprintf("user%d", u), "page-password")
		defer body.Close()
		go func() {
			r := bufio.NewReader(body)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				data, ok := strings.CutPrefix(line, "data: ")
				var ev dialplan.CallEvent
				if !ok || json.Unmarshal([]byte(data), &ev) != nil || ev.State != dialplan.Ringing {
					continue
				}
				mu.Lock()
				if t, ok := emitted[ev.PBX+"/"+ev.Call]; ok {
					cards = append(cards, time.Since(t))
				}
				mu.Unlock()
			}
		}()
	}
	fmt.Printf("\norg: %d pages signed in, their event streams open, in %v\n", users, time.Since(t0).Round(time.Millisecond))

	var lookups []time.Duration
	var lmu sync.Mutex
	var wg sync.WaitGroup
	ru0 := cpu()
	start := time.Now()
	per := time.Second * time.Duration(pbxs) / time.Duration(rate) // each PBX's interval
	total := 0
	for i := range pbxs {
		n := int(d / per)
		total += n
		wg.Add(1)
		go func() {
			defer wg.Done()
			from := fmt.Sprintf("127.0.0.%d", i+1)
			tick := time.NewTicker(per)
			defer tick.Stop()
			var cwg sync.WaitGroup
			for k := range n {
				<-tick.C
				cwg.Add(1)
				go func() {
					defer cwg.Done()
					uid := fmt.Sprintf("1733500000.%d", k)
					number := known[(i*7919+k*104729)%len(known)]
					t0 := time.Now()
					cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer ccancel()
					if _, err := (agitest.Call{Script: "incoming", Args: []string{}, From: from,
						Env: map[string]string{"callerid": number, "uniqueid": uid}}).Run(cctx, dm.AGIAddr()); err != nil {
						return
					}
					lmu.Lock()
					lookups = append(lookups, time.Since(t0))
					lmu.Unlock()
					trunk := amitest.Chan{Name: "PJSIP/trunk-00000001", CallerIDNum: number, Uniqueid: uid, Linkedid: uid}
					exten := 1000 + k%(users/pbxs)
					phone := amitest.Chan{Name: fmt.Sprintf("PJSIP/%d-00000002", exten), Uniqueid: uid + "1", Linkedid: uid}
					mu.Lock()
					emitted[fmt.Sprintf("pbx%d/%s", i, uid)] = time.Now()
					mu.Unlock()
					mgrs[i].EmitDialBegin(trunk, phone, fmt.Sprintf("PJSIP/%d", exten))
					mgrs[i].EmitHangup(trunk, 16, "Normal Clearing")
					agitest.Call{Script: "hangup", From: from, Args: []string{"in", number, "", fmt.Sprint(t0.Unix()), uid, uid, "NOANSWER", "", "",
						fmt.Sprintf("PJSIP/%d", exten), number}}.Run(cctx, dm.AGIAddr())
				}()
			}
			cwg.Wait()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	used := cpu() - ru0
	time.Sleep(500 * time.Millisecond) // the last cards
	drain := time.Now()
	for dm.Deliverer.Stats().Delivered+dm.Deliverer.Stats().Skipped < int64(total) && time.Since(drain) < 2*time.Minute {
		time.Sleep(100 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	fmt.Printf("org: %d PBXs, %d users subscribed, %d partners, %d calls in %v (%.0f/s asked %d/s)\n", pbxs, users, partners, total, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds(), rate)
	fmt.Printf("  incoming lookup session p50 %s p99 %s ms (%d)\n", ms(pct(lookups, 50)), ms(pct(lookups, 99)), len(lookups))
	fmt.Printf("  card (DialBegin to the page's event stream) p50 %s p99 %s ms (%d)\n", ms(pct(cards, 50)), ms(pct(cards, 99)), len(cards))
	fmt.Printf("  call log: %d notes posted %v after the load (%d spooled)\n", dm.Deliverer.Stats().Delivered, time.Since(drain).Round(time.Millisecond), total)
	fmt.Printf("  CPU: %.2f s a second of load, of %d cores (this process: daemon, emulators and load)\n", used.Seconds()/elapsed.Seconds(), runtime.NumCPU())
}

func pct(v []time.Duration, p float64) time.Duration {
	if len(v) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), v...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, int(float64(len(s))*p/100))]
}

func cpu() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func must2[T any](v T, err error) T {
	must(err)
	return v
}

// signedInStream signs login in to the phone page, as its form does, and
// opens the page's event stream.
func signedInStream(base, login, password string) io.ReadCloser {
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	resp, err := hc.PostForm(base+"/login", url.Values{"login": {login}, "password": {password}, "next": {"/"}})
	must(err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		must(fmt.Errorf("sign-in of %s: %s", login, resp.Status))
	}
	resp, err = hc.Get(base + "/events")
	must(err)
	if resp.StatusCode != http.StatusOK {
		must(fmt.Errorf("event stream of %s: %s", login, resp.Status))
	}
	return resp.Body
}
