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
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/odoo-agi/odoo-agi/agi/agitest"
	"github.com/odoo-agi/odoo-agi/ami/amitest"
	"github.com/odoo-agi/odoo-agi/dialplan"
	"github.com/odoo-agi/odoo-agi/internal/daemon"
	"github.com/odoo-agi/odoo-agi/odoo/odootest"
)

// benchOrg is one odoo-agi for a whole organisation: pbxs Asterisks
// (manager emulators, FastAGI peers from 127.0.0.1, .2, …), users signed
// in with their page's event stream open, and rate calls a second
// in all. Each call is what the snippet and Asterisk make of it: the
// incoming FastAGI lookup, DialBegin to a user's phone, Hangup, and the
// hangup FastAGI session whose note the call log posts. odoo-agi runs in a
// child process, as serve runs it, so that its CPU is its own; the
// emulators and the load share the machine with it. It reports the lookup
// and card latencies, the call log's progress, and odoo-agi's CPU and RSS.
func benchOrg(partners, pbxs, users, rate, workers int, d, latency time.Duration) {
	o := odootest.New()
	odooURL, err := o.Start()
	must(err)
	defer o.Close()
	branch := o.AddCompany("Branch")
	o.SetCompanies("asterisk1", 1, branch)
	known := seed(o, partners)
	o.SetLatency(latency) // after the seed, before odoo-agi's first sync
	mgrs := make([]*amitest.Server, pbxs)
	var addrs []string
	for i := range pbxs {
		mgrs[i] = amitest.New()
		addr, err := mgrs[i].Start()
		must(err)
		defer mgrs[i].Stop()
		addrs = append(addrs, addr)
	}
	for u := range users {
		o.AddUser(fmt.Sprintf("user%d", u), fmt.Sprintf("User %d", u))
		o.SetPassword(fmt.Sprintf("user%d", u), "page-password")
	}
	spool := must2(os.MkdirTemp("", "odoo-agi-bench-spool"))
	defer os.RemoveAll(spool)
	cmd := exec.Command(os.Args[0], "org-daemon", odooURL, strings.Join(addrs, ","), strconv.Itoa(users), strconv.Itoa(branch), spool, strconv.Itoa(workers))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	must(cmd.Start())
	defer func() { stdin.Close(); cmd.Wait() }()
	var agiAddr, apiAddr string
	_, err = fmt.Fscan(bufio.NewReader(stdout), &agiAddr, &apiAddr)
	must(err)

	// The pages: each user signed in over HTTP, with its event stream open.
	var mu sync.Mutex
	emitted := map[string]time.Time{}
	var cards []time.Duration
	base := "http://" + apiAddr
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
	ru0 := cpuOf(cmd.Process.Pid)
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
						Env: map[string]string{"callerid": number, "uniqueid": uid}}).Run(cctx, agiAddr); err != nil {
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
						fmt.Sprintf("PJSIP/%d", exten), number}}.Run(cctx, agiAddr)
				}()
			}
			cwg.Wait()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	used := cpuOf(cmd.Process.Pid) - ru0
	time.Sleep(500 * time.Millisecond) // the last cards
	drain := time.Now()
	for posted(base) < total && time.Since(drain) < 2*time.Minute {
		time.Sleep(100 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	fmt.Printf("org: %d PBXs, %d pages, %d partners, Odoo answering in %v, %d calls in %v (%.0f/s asked %d/s)\n", pbxs, users, partners, latency, total, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds(), rate)
	fmt.Printf("  incoming lookup session p50 %s p99 %s ms (%d)\n", ms(pct(lookups, 50)), ms(pct(lookups, 99)), len(lookups))
	fmt.Printf("  card (DialBegin to the page's event stream) p50 %s p99 %s ms (%d)\n", ms(pct(cards, 50)), ms(pct(cards, 99)), len(cards))
	fmt.Printf("  call log (%d workers): %d notes posted %v after the load (%d spooled)\n", workers, posted(base), time.Since(drain).Round(time.Millisecond), total)
	fmt.Printf("  odoo-agi's CPU: %.2f s a second of load, of %d cores; its RSS %d MiB\n", used.Seconds()/elapsed.Seconds(), runtime.NumCPU(), rssOf(cmd.Process.Pid)>>20)
}

func pct(v []time.Duration, p float64) time.Duration {
	if len(v) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), v...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, int(float64(len(s))*p/100))]
}

// cpuOf is a process's user and system time, from /proc (100 ticks a second).
func cpuOf(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	must(err)
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.Atoi(f[11])
	st, _ := strconv.Atoi(f[12])
	return time.Duration(ut+st) * 10 * time.Millisecond
}

func rssOf(pid int) int64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			kb, _ := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// posted is the call log's delivered and skipped calls, from /healthz.
func posted(base string) int {
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var doc struct {
		Calllog struct{ Delivered, Skipped int } `json:"calllog"`
	}
	json.NewDecoder(resp.Body).Decode(&doc)
	return doc.Calllog.Delivered + doc.Calllog.Skipped
}

// orgDaemon is the org measure's child: odoo-agi for the PBXs whose
// managers are at addrs, as serve runs it. It prints its FastAGI and HTTP
// addresses once synced and logged in, and serves until stdin closes.
func orgDaemon(args []string) {
	odooURL, addrs := args[0], strings.Split(args[1], ",")
	users, _ := strconv.Atoi(args[2])
	branch, _ := strconv.Atoi(args[3])
	c := daemon.DefaultConfig()
	c.Path = "(bench)"
	c.Odoo.URL, c.Odoo.CacheFile = odooURL, ""
	c.AGI.MaxSessions = 10000
	c.CallLog.Enabled, c.CallLog.SpoolDir = true, args[4]
	c.CallLog.Workers, _ = strconv.Atoi(args[5])
	for i, addr := range addrs {
		company := 1
		if i%2 == 1 {
			company = branch
		}
		c.PBXs = append(c.PBXs, daemon.PBXConfig{Name: fmt.Sprintf("pbx%d", i), Country: "BE", InternalMaxDigits: 6, DialFormat: "national",
			Company: company, AGIAllow: []string{fmt.Sprintf("127.0.0.%d", i+1)}, AMIAddress: addr, AMIUser: "odoo", AMISecret: "secret"})
	}
	for u := range users {
		c.Users = append(c.Users, daemon.UserConfig{Login: fmt.Sprintf("user%d", u), Exten: fmt.Sprint(1000 + u/len(addrs)),
			PBX: fmt.Sprintf("pbx%d", u%len(addrs)), Channels: []daemon.ChannelConfig{{Name: fmt.Sprintf("PJSIP/%d", 1000+u/len(addrs)), Originate: true}}})
	}
	must(c.Validate())
	agiLn := must2(net.Listen("tcp", "127.0.0.1:0"))
	apiLn := must2(net.Listen("tcp", "127.0.0.1:0"))
	dm, err := daemon.New(c, daemon.Options{Logs: io.Discard, AGIListener: agiLn, APIListener: apiLn})
	must(err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- dm.Run(ctx) }()
	<-dm.Directory.Synced()
	for _, m := range dm.Managers {
		for !m.Client.State().Connected {
			time.Sleep(10 * time.Millisecond)
		}
	}
	fmt.Println(dm.AGIAddr(), dm.APIAddr())
	io.Copy(io.Discard, os.Stdin)
	cancel()
	<-done
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
