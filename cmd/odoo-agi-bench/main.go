// Command odoo-agi-bench is the load generator. It measures odoo-agi,
// wired by package daemon exactly as `odoo-agi serve` wires it, and, in the
// same run, a bare FastAGI responder doing the same exchange, and prints
// ratios: the machine is shared and noisy, so only ratios measured side by
// side mean anything.
//
//	go run ./cmd/odoo-agi-bench                      # every measure, default sizes (a few minutes)
//	go run ./cmd/odoo-agi-bench -mode agi -d 10s     # one measure
//	go run ./cmd/odoo-agi-bench -mode index -index 100000,1000000
//
// Modes: agi (sessions against the bare responder, one at a time and 100
// concurrent), zipf (Odoo RPCs per 1,000 calls), slow (Odoo 2 s slow),
// index (sync time and RSS, with Odoo in a child process).
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/odoo-agi/odoo-agi/agi/agitest"
	"github.com/odoo-agi/odoo-agi/dialplan"
	"github.com/odoo-agi/odoo-agi/internal/daemon"
	"github.com/odoo-agi/odoo-agi/lookup"
	"github.com/odoo-agi/odoo-agi/odoo"
	"github.com/odoo-agi/odoo-agi/odoo/odootest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func main() {
	if len(os.Args) > 1 && os.Args[1] == "odoo-emulator" {
		serveEmulator(os.Args[2:])
		return
	}
	if len(os.Args) > 3 && os.Args[1] == "snapshot-load" {
		size, _ := strconv.Atoi(os.Args[3])
		loadSnapshot(os.Args[2], size)
		return
	}
	if len(os.Args) > 7 && os.Args[1] == "org-daemon" {
		orgDaemon(os.Args[2:])
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "servers" {
		serveServers(os.Args[2:])
		return
	}
	mode := flag.String("mode", "agi,zipf,slow,index", "measures to run, comma-separated: agi, zipf, slow, index, scale, org")
	dur := flag.Duration("d", 5*time.Second, "length of each load run")
	rounds := flag.Int("rounds", 3, "alternating bare/odoo-agi rounds per load (the median ratio is reported)")
	conc := flag.String("c", "1,100", "concurrent sessions, comma-separated")
	partners := flag.Int("partners", 10000, "partners in the emulator for agi, zipf and slow")
	index := flag.String("index", "100000", "partner counts for the index measure, comma-separated")
	scale := flag.Int("scale", 1000000, "partners for the scale measure")
	pbxs := flag.Int("pbxs", 10, "PBXs for the org measure")
	users := flag.Int("users", 500, "users with a page open, for the org measure")
	rate := flag.Int("rate", 200, "calls a second, in all, for the org measure")
	latency := flag.Duration("odoo-latency", 0, "the Odoo emulator's time per request, for the org measure")
	workers := flag.Int("workers", 4, "[calllog] workers, for the org measure")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		must(err)
		must(pprof.StartCPUProfile(f))
		defer pprof.StopCPUProfile()
	}
	fmt.Printf("odoo-agi bench: %s, %d CPUs, GOMAXPROCS %d, %s\n", runtime.Version(), runtime.NumCPU(), runtime.GOMAXPROCS(0), time.Now().UTC().Format(time.RFC3339))
	for _, m := range strings.Split(*mode, ",") {
		switch m {
		case "agi":
			benchAGI(*partners, ints(*conc), *dur, *rounds)
		case "zipf":
			benchZipf(*partners)
		case "slow":
			benchSlow(*partners)
		case "index":
			for _, n := range ints(*index) {
				benchIndex(n)
			}
		case "scale":
			benchScale(*scale)
		case "org":
			benchOrg(*partners, *pbxs, *users, *rate, *workers, *dur, *latency)
		default:
			fmt.Fprintf(os.Stderr, "bench: unknown mode %q\n", m)
			return
		}
	}
}

func ints(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: %q is not a number\n", f)
			os.Exit(2)
		}
		out = append(out, n)
	}
	return out
}

// seed adds n partners: a landline each and a mobile on every other one,
// all distinct and valid Belgian numbers.
func seed(o *odootest.Server, n int) (known []string) {
	be := o.CountryID("BE")
	for i := 0; i < n; i++ {
		p := odootest.Partner{Name: fmt.Sprintf("Contact %d", i), CountryID: be,
			Phone: fmt.Sprintf("02 %03d %02d %02d", 200+i/10000, (i/100)%100, i%100)}
		if i%2 == 0 {
			p.Mobile = fmt.Sprintf("+32 4%02d %02d %02d %02d", 70+i/1000000, (i/10000)%100, (i/100)%100, i%100)
		}
		o.Upsert(p)
		known = append(known, knownNumber(i))
	}
	return known
}

// knownNumber is partner i's landline in E.164.
func knownNumber(i int) string {
	return fmt.Sprintf("+322%03d%02d%02d", 200+i/10000, (i/100)%100, i%100)
}

// world is odoo-agi as `odoo-agi serve` runs it (package daemon), against
// the Odoo emulator, serving FastAGI on loopback.
type world struct {
	odoo  *odootest.Server
	d     *daemon.Daemon
	dir   *lookup.Directory
	addr  string
	known []string
	stop  func()
}

func newWorld(partners, indexSize int) *world {
	o := odootest.New()
	url, err := o.Start()
	must(err)
	w := &world{odoo: o, known: seed(o, partners)}
	c := daemon.DefaultConfig()
	c.Path = "(bench)"
	c.Odoo.URL, c.Odoo.IndexSize, c.Odoo.CacheFile = url, indexSize, ""
	c.AGI.MaxSessions = 10000
	c.API.Listen = ""
	must(c.Validate())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	w.d, err = daemon.New(c, daemon.Options{Logs: io.Discard, AGIListener: ln})
	must(err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.d.Run(ctx) }()
	w.stop = func() { cancel(); <-done }
	select {
	case <-w.d.Directory.Synced():
	case <-time.After(10 * time.Minute):
		must(fmt.Errorf("no sync after 10 minutes: %s", w.d.Directory.State().LastError))
	}
	w.dir, w.addr = w.d.Directory, w.d.AGIAddr()
	return w
}

func (w *world) close() {
	w.stop()
	w.odoo.Close()
}

// envBlock is what Asterisk 22 sends for agi://…/incoming from this caller.
func envBlock(callerID string) []byte {
	return []byte(agitest.Call{Script: "incoming", Args: []string{}, Env: map[string]string{"callerid": callerID, "calleridname": "TRUNK"}}.EnvBlock())
}

// session plays Asterisk for one session (agitest.Play).
func session(addr string, env []byte, keep bool) (int, []string, error) {
	return agitest.Play(addr, env, keep)
}

// bare is the baseline: read the env block, send the same command lines
// odoo-agi sends, read each reply, close. No lookup, no quoting.
func bare(lines []string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	go agitest.Bare(ln, lines)
	return ln.Addr().String()
}

type load struct {
	sessions int
	errors   int
	elapsed  time.Duration
	times    []time.Duration
}

func (l load) rate() float64 { return float64(l.sessions) / l.elapsed.Seconds() }

func (l load) pct(p float64) time.Duration {
	if len(l.times) == 0 {
		return 0
	}
	return l.times[min(len(l.times)-1, int(float64(len(l.times))*p))]
}

// run opens conc concurrent sessions for d, each with one of envs.
func run(addr string, conc int, d time.Duration, envs [][]byte) load {
	var mu sync.Mutex
	var out load
	var next atomic.Int64
	end := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for g := 0; g < conc; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var times []time.Duration
			errs := 0
			for time.Now().Before(end) {
				env := envs[int(next.Add(1))%len(envs)]
				t0 := time.Now()
				if _, _, err := session(addr, env, false); err != nil {
					errs++
					continue
				}
				times = append(times, time.Since(t0))
			}
			mu.Lock()
			out.times = append(out.times, times...)
			out.errors += errs
			mu.Unlock()
		}()
	}
	wg.Wait()
	out.elapsed = time.Since(start)
	out.sessions = len(out.times)
	sort.Slice(out.times, func(i, j int) bool { return out.times[i] < out.times[j] })
	return out
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f", float64(d.Microseconds())/1000) }

// benchAGI plays Asterisk from this process against odoo-agi and the bare
// responder, both served by a child process, as Asterisk and odoo-agi are
// separate processes on a PBX.
func benchAGI(partners int, concs []int, d time.Duration, rounds int) {
	cmd := exec.Command(os.Args[0], "servers", "-partners", strconv.Itoa(partners))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	must(cmd.Start())
	defer func() { stdin.Close(); cmd.Wait() }()
	var agiAddr, baseAddr string
	_, err := fmt.Fscan(bufio.NewReader(stdout), &agiAddr, &baseAddr)
	must(err)
	// Cache hits: known callers.
	var envs [][]byte
	for i := 0; i < 1000; i++ {
		envs = append(envs, envBlock(knownNumber(i*7%partners)))
	}
	n, lines, err := session(agiAddr, envs[0], true)
	must(err)
	fmt.Printf("\n## FastAGI sessions: odoo-agi vs a bare responder (same %d AGI round trip(s) per call, cache hits)\n", n)
	fmt.Printf("AGI round trips per incoming call: %d (%s)\n", n, strings.Fields(lines[0])[0]+" "+strings.Fields(lines[0])[1])
	fmt.Println("| concurrent | round | bare sessions/s | odoo-agi sessions/s | throughput ratio | bare p50 ms | odoo-agi p50 ms | p50 ratio | bare p99 ms | odoo-agi p99 ms | p99 ratio | odoo-agi p90 / max ms |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, c := range concs {
		var tr, p50r, p99r []float64
		for r := 1; r <= rounds; r++ {
			b := run(baseAddr, c, d, envs)
			o := run(agiAddr, c, d, envs)
			if o.errors > 0 || b.errors > 0 {
				fmt.Printf("(errors: bare %d, odoo-agi %d)\n", b.errors, o.errors)
			}
			tr = append(tr, o.rate()/b.rate())
			p50r = append(p50r, float64(o.pct(.5))/float64(b.pct(.5)))
			p99r = append(p99r, float64(o.pct(.99))/float64(b.pct(.99)))
			fmt.Printf("| %d | %d | %.0f | %.0f | %.2f | %s | %s | %.2f | %s | %s | %.2f | %s / %s |\n", c, r, b.rate(), o.rate(), tr[r-1],
				ms(b.pct(.5)), ms(o.pct(.5)), p50r[r-1], ms(b.pct(.99)), ms(o.pct(.99)), p99r[r-1], ms(o.pct(.9)), ms(o.pct(1)))
		}
		fmt.Printf("| %d | median | | | **%.2f** | | | **%.2f** | | | **%.2f** | |\n", c, median(tr), median(p50r), median(p99r))
	}
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// zipfCallers mixes known and unknown numbers with a Zipf distribution:
// a few numbers call a lot, most call once.
func zipfCallers(known []string, n int, seed int64) [][]byte {
	r := rand.New(rand.NewSource(seed))
	z := rand.NewZipf(r, 1.1, 1, uint64(2*len(known)-1))
	envs := make([][]byte, n)
	for i := range envs {
		k := int(z.Uint64())
		num := ""
		if k%2 == 0 {
			num = known[(k/2*7919)%len(known)]
		} else {
			num = fmt.Sprintf("+3225%06d", k/2) // Brussels numbers no partner has
		}
		envs[i] = envBlock(num)
	}
	return envs
}

func benchZipf(partners int) {
	fmt.Printf("\n## Odoo RPCs per 1,000 calls, Zipf mix of known and unknown callers (%d partners, %d numbers)\n", partners, partners*3/2)
	fmt.Println("| index | calls | Odoo RPCs (warm-up 5,000 calls) | Odoo RPCs per 1,000 calls, steady state | lookups FOUND / NOTFOUND |")
	fmt.Println("|---|---|---|---|---|")
	for _, size := range []int{1_000_000, partners / 2} {
		w := newWorld(partners, size)
		label := "complete (index_size 1,000,000)"
		if size < partners {
			label = fmt.Sprintf("bounded (index_size %d < numbers)", size)
		}
		before := w.odoo.TotalCalls()
		play(w.addr, zipfCallers(w.known, 5000, 1), 8)
		warm := w.odoo.TotalCalls() - before
		before = w.odoo.TotalCalls()
		envs := zipfCallers(w.known, 20000, 2)
		play(w.addr, envs, 8)
		steady := w.odoo.TotalCalls() - before
		c := w.dir.LookupCounts()
		fmt.Printf("| %s | %d | %d | %.1f | %d / %d |\n", label, len(envs), warm, float64(steady)*1000/float64(len(envs)), c[lookup.Found], c[lookup.NotFound])
		before = w.odoo.TotalCalls()
		must(w.dir.Refresh(context.Background()))
		if size >= partners {
			fmt.Printf("(a refresh, every [odoo] refresh_interval = 30 s, costs %d RPCs when nothing changed)\n", w.odoo.TotalCalls()-before)
		}
		w.close()
	}
}

// play runs every env once, conc at a time, and returns the session times.
func play(addr string, envs [][]byte, conc int) []time.Duration {
	var next atomic.Int64
	times := make([]time.Duration, len(envs))
	var wg sync.WaitGroup
	for g := 0; g < conc; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(envs) {
					return
				}
				t0 := time.Now()
				session(addr, envs[i], false)
				times[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	return times
}

func benchSlow(partners int) {
	fmt.Printf("\n## Odoo 2 s slow: session times stay under lookup_timeout (%v)\n", dialplan.DefaultLookupTimeout)
	w := newWorld(partners, partners/2) // bounded: misses ask Odoo
	defer w.close()
	w.odoo.SetLatency(2 * time.Second)
	envs := zipfCallers(w.known, 3000, 3)
	times := play(w.addr, envs, 20)
	p := func(q float64) time.Duration { return times[min(len(times)-1, int(float64(len(times))*q))] }
	c := w.dir.LookupCounts()
	fmt.Println("| calls | concurrent | p50 ms | p90 ms | p99 ms | max ms | FOUND / NOTFOUND |")
	fmt.Println("|---|---|---|---|---|---|---|")
	fmt.Printf("| %d | 20 | %s | %s | %s | %s | %d / %d |\n", len(envs), ms(p(.5)), ms(p(.9)), ms(p(.99)), ms(p(1)), c[lookup.Found], c[lookup.NotFound])
}

// benchIndex syncs n partners from an emulator in a child process, so
// that this process's RSS is odoo-agi's alone.
func benchIndex(n int) {
	fmt.Printf("\n## Index build: %d partners from an Odoo emulator in another process\n", n)
	url, _, _, stop := emulatorChild(n, 16)
	defer stop()
	runtime.GC()
	rss0 := rss()
	c := daemon.DefaultConfig()
	c.Odoo.URL, c.Odoo.CacheFile, c.Odoo.Timeout.Duration = url, "", 5*time.Minute
	must(c.Validate())
	dir := c.Directory(c.OdooClient(quiet), quiet)
	t0 := time.Now()
	must(dir.Sync(context.Background()))
	took := time.Since(t0)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st := dir.State()
	rss1 := rss()
	fmt.Println("| partners | numbers | sync s | RSS before MiB | RSS after MiB | Go heap in use MiB | heap B per number |")
	fmt.Println("|---|---|---|---|---|---|---|")
	fmt.Printf("| %d | %d | %.1f | %.0f | %.0f | %.0f | %.0f |\n", st.Partners, st.Numbers, took.Seconds(), float64(rss0)/(1<<20), float64(rss1)/(1<<20),
		float64(ms.HeapInuse)/(1<<20), float64(ms.HeapInuse)/float64(st.Numbers))
	runtime.KeepAlive(dir)
}

// rss reads VmRSS from /proc (Linux); 0 elsewhere.
func rss() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			kb, _ := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// serveServers is the child process of the agi measure: odoo-agi on a
// synced emulator, and the bare responder sending the line odoo-agi sends
// for a known caller. It prints both addresses and serves until stdin closes.
func serveServers(args []string) {
	fs := flag.NewFlagSet("servers", flag.ExitOnError)
	n := fs.Int("partners", 10000, "partners")
	fs.Parse(args)
	w := newWorld(*n, 1_000_000)
	_, lines, err := session(w.addr, envBlock(w.known[0]), true)
	must(err)
	fmt.Println(w.addr, bare(lines))
	io.Copy(io.Discard, os.Stdin)
	w.close()
}

// serveEmulator is the child process of the index measure.
func serveEmulator(args []string) {
	fs := flag.NewFlagSet("odoo-emulator", flag.ExitOnError)
	n := fs.Int("partners", 100000, "partners")
	version := fs.Int("version", 16, "Odoo version to answer like: 16 (XML-RPC) or 19 (JSON-2 too, no mobile field)")
	fs.Parse(args)
	o := odootest.New()
	o.SetVersion(*version)
	seed(o, *n)
	o.SetAPIKey("asterisk1", odootest.SystemKey)
	url, err := o.Start()
	must(err)
	// Render the rows once before the parent starts timing.
	c := odoo.New(odoo.Config{URL: url, DB: "odoo", User: "asterisk1", Password: "asterisk1", Logger: quiet})
	_, err = c.Execute(context.Background(), "res.partner", "search_count", []any{[]any{}}, nil)
	must(err)
	fmt.Println(url)
	// Commands from the parent, until it closes stdin: "touch N" changes
	// N partners, as a bulk import does.
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		var k int
		if _, err := fmt.Sscanf(sc.Text(), "touch %d", &k); err == nil {
			touch(o, k, *n)
			fmt.Println("ok")
		}
	}
	o.Close()
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
