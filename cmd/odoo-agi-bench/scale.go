package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kolo/xmlrpc"

	"github.com/odoo-agi/odoo-agi/internal/daemon"
	"github.com/odoo-agi/odoo-agi/lookup"
	"github.com/odoo-agi/odoo-agi/odoo"
	"github.com/odoo-agi/odoo-agi/odoo/odootest"
)

// benchScale measures the index at scale, against an emulator in a child
// process that serves n partners:
//   - a full sync, as a ratio to the emulator's own time to serve the same
//     search_read pages to a bare client that only reads the bytes;
//   - RSS and heap bytes per number after the build;
//   - lookups while a refresh of 10,000 changes, a snapshot write and a
//     reconcile run beside them;
//   - start-up from the snapshot, in a process of its own.
func benchScale(n int) {
	fmt.Printf("\n## Scale: %d partners from an Odoo emulator in another process\n", n)
	fields := []any{"id", "name", "display_name", "is_company", "parent_id", "commercial_partner_id", "commercial_company_name",
		"phone", "mobile", "country_id", "user_id", "category_id", "active", "write_date"}
	fmt.Println("| API | partners | numbers | full sync s | bare client s (same pages, bytes only) | ratio | RSS MiB (before → after the sync) | heap B per number |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	// Odoo 19 over JSON-2 first (no mobile field there), then Odoo 16 over
	// XML-RPC, whose index the rest of the measure uses.
	url, _, _, stopJSON2 := emulatorChild(n, 19)
	syncOnce(url, odoo.JSON2, n, fields[:8:8], fields[9:])
	stopJSON2()
	url, stdin, child, stopXMLRPC := emulatorChild(n, 16)
	defer stopXMLRPC()
	dir := syncOnce(url, odoo.XMLRPC, n, fields, nil)

	// Lookups while the writers run.
	snap := filepath.Join(os.TempDir(), fmt.Sprintf("odoo-agi-bench-%d.snapshot", os.Getpid()))
	defer os.Remove(snap)
	fmt.Fprintln(stdin, "touch 10000")
	_, err := child.ReadString('\n')
	must(err)
	var stop atomic.Bool
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for i := g; !stop.Load(); i += 2 {
				raw := knownNumber(i * 7919 % n)
				if i%4 == 3 {
					raw = fmt.Sprintf("+3225%06d", i%1000000) // unknown: the index is complete, no Odoo
				}
				ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
				t := time.Now()
				dir.Lookup(ctx, raw)
				mine = append(mine, time.Since(t))
				cancel()
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	t1 := time.Now()
	var writers sync.WaitGroup
	var refreshTook, snapTook time.Duration
	writers.Add(2)
	go func() {
		defer writers.Done()
		t := time.Now()
		must(dir.Refresh(context.Background()))
		refreshTook = time.Since(t)
	}() // with a reconcile
	go func() { defer writers.Done(); t := time.Now(); must(dir.SaveSnapshot(snap)); snapTook = time.Since(t) }()
	writers.Wait()
	stop.Store(true)
	wg.Wait()
	slices.Sort(lat)
	pct := func(q float64) string {
		return fmt.Sprintf("%.3f", float64(lat[min(len(lat)-1, int(float64(len(lat))*q))].Microseconds())/1000)
	}
	fmt.Println("\n| while | lookups | p50 ms | p99 ms | max ms |")
	fmt.Println("|---|---|---|---|---|")
	fmt.Printf("| a refresh of 10,000 changes with a reconcile (%.1f s) and a snapshot write (%.1f s), together %.1f s | %d | %s | **%s** | %s |\n",
		refreshTook.Seconds(), snapTook.Seconds(), time.Since(t1).Seconds(), len(lat), pct(.5), pct(.99), pct(1))

	// Start-up from the snapshot, in a fresh process.
	out, err := exec.Command(os.Args[0], "snapshot-load", snap, strconv.Itoa(2*n)).Output()
	must(err)
	fmt.Printf("\nStart-up from the snapshot (%d partners): %s\n", n, strings.TrimSpace(string(out)))
	runtime.KeepAlive(dir)
}

// emulatorChild starts an emulator of n partners in a child process and
// returns its URL, its command pipe and what stops it.
func emulatorChild(n, version int) (string, io.Writer, *bufio.Reader, func()) {
	cmd := exec.Command(os.Args[0], "odoo-emulator", "-partners", strconv.Itoa(n), "-version", strconv.Itoa(version))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	must(cmd.Start())
	child := bufio.NewReader(stdout)
	url, err := child.ReadString('\n')
	must(err)
	return strings.TrimSpace(url), stdin, child, func() { stdin.Close(); cmd.Wait() }
}

// syncOnce times a full sync over api against the bare client, prints a
// row, and returns the directory it built.
func syncOnce(url, api string, n int, fields, more []any) *lookup.Directory {
	c := daemon.DefaultConfig()
	c.Odoo.URL, c.Odoo.CacheFile, c.Odoo.Timeout.Duration = url, "", 10*time.Minute
	c.Odoo.IndexSize = 2 * n
	c.Odoo.API, c.Odoo.APIKey = api, odootest.SystemKey
	must(c.Validate())
	bare := bareSync(url, api, append(fields, more...))
	runtime.GC()
	rss0 := rss()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	dir := lookup.NewDirectory(lookup.Config{Normalizer: c.Normalizer(), IndexSize: c.Odoo.IndexSize, Logger: quiet, ReconcileEvery: 1},
		c.OdooClient(quiet))
	t0 := time.Now()
	must(dir.Sync(context.Background()))
	ours := time.Since(t0)
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	rss1 := rss()
	debug.FreeOSMemory() // what the scavenger gives back over the next minutes anyway
	st := dir.State()
	fmt.Printf("| %s | %d | %d | %.1f | %.1f | **%.2f** | %.0f → %.0f (%.0f once returned) | %.0f |\n", api, st.Partners, st.Numbers, ours.Seconds(), bare.Seconds(),
		ours.Seconds()/bare.Seconds(), float64(rss0)/(1<<20), float64(rss1)/(1<<20), float64(rss())/(1<<20), float64(after.HeapAlloc-before.HeapAlloc)/float64(st.Numbers))
	// Again, with that index published: the periodic full sync, and the
	// first one after a start from the snapshot, read numbers only for
	// partners that changed. The bare client reads the pages again too.
	bare = bareSync(url, api, append(fields, more...))
	t0 = time.Now()
	must(dir.Sync(context.Background()))
	again := time.Since(t0)
	fmt.Printf("| %s, again (index warm) | %d | %d | %.1f | %.1f | **%.2f** | %.0f after | |\n", api, st.Partners, st.Numbers, again.Seconds(), bare.Seconds(),
		again.Seconds()/bare.Seconds(), float64(rss())/(1<<20))
	return dir
}

// bareSync reads every page of res.partner as a sync does, as raw bytes:
// the emulator's own time to serve them, with no decoding on our side. It
// makes the sync's requests (the count, the highest id, then the same
// spans of ids, as lookup splits them), one at a time.
func bareSync(url, api string, fields []any) time.Duration {
	lastID := regexp.MustCompile(`<name>id</name>\s*<value><int>(\d+)</int>`)
	if api == odoo.JSON2 {
		lastID = regexp.MustCompile(`"id":\s*(\d+)`)
	}
	all := map[string]any{"context": map[string]any{"active_test": false}}
	post := func(method string, domain []any, kw map[string]any) []byte {
		var req *http.Request
		if api == odoo.JSON2 {
			kw = maps.Clone(kw)
			kw["domain"] = domain
			body, _ := json.Marshal(kw)
			req, _ = http.NewRequest("POST", url+"/json/2/res.partner/"+method, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "bearer "+odootest.SystemKey)
		} else {
			body, err := xmlrpc.EncodeMethodCall("execute_kw", "odoo", 2, "asterisk1", "res.partner", method, []any{domain}, kw)
			must(err)
			req, _ = http.NewRequest("POST", url+"/xmlrpc/2/object", bytes.NewReader(body))
			req.Header.Set("Content-Type", "text/xml")
		}
		resp, err := http.DefaultClient.Do(req)
		must(err)
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return data
	}
	number := regexp.MustCompile(`<int>(\d+)</int>`)
	if api == odoo.JSON2 {
		number = regexp.MustCompile(`(\d+)`)
	}
	firstInt := func(data []byte) int {
		m := number.FindSubmatch(data)
		if m == nil {
			panic(fmt.Sprintf("no number in %.200q", data))
		}
		n, _ := strconv.Atoi(string(m[1]))
		return n
	}
	t0 := time.Now()
	count := firstInt(post("search_count", []any{}, all))
	top := firstInt(post("search", []any{}, map[string]any{"limit": 1, "order": "id desc", "context": all["context"]}))
	const page = 2000
	width := max(page, top*page/max(count, 1))
	for lo := 0; ; lo += width {
		hi := lo + width
		if lo >= top {
			hi = 0 // the open span, past the highest id
		}
		after := lo
		for {
			domain := []any{[]any{"id", ">", after}}
			if hi > 0 {
				domain = append(domain, []any{"id", "<=", min(hi, top)})
			}
			ids := lastID.FindAllSubmatch(post("search_read", domain, map[string]any{"fields": fields, "order": "id", "limit": page, "context": all["context"]}), -1)
			if len(ids) < page {
				break
			}
			after, _ = strconv.Atoi(string(ids[len(ids)-1][1]))
		}
		if hi == 0 {
			return time.Since(t0)
		}
	}
}

// loadSnapshot is the child process that times a start-up from a snapshot.
func loadSnapshot(path string, size int) {
	runtime.GC()
	rss0 := rss()
	c := daemon.DefaultConfig()
	c.Odoo.IndexSize = size
	d := c.Directory(nil, quiet)
	t0 := time.Now()
	n, err := d.LoadSnapshot(path)
	must(err)
	took := time.Since(t0)
	runtime.GC()
	rss1 := rss()
	debug.FreeOSMemory()
	st := d.State()
	fmt.Printf("%d partners, %d numbers serving after %.1f s, RSS %.0f → %.0f MiB (%.0f once returned)",
		n, st.Numbers, took.Seconds(), float64(rss0)/(1<<20), float64(rss1)/(1<<20), float64(rss())/(1<<20))
}

// touch changes n partners in the emulator, as a bulk import does.
func touch(o *odootest.Server, n, partners int) {
	for i := range n {
		o.Update(101+(i*7)%partners, func(p *odootest.Partner) { p.Name += " (updated)" })
	}
}
