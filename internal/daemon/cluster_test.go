package daemon

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/odoo-agi/odoo-agi/agi/agitest"
	"github.com/odoo-agi/odoo-agi/ami/amitest"
	"github.com/odoo-agi/odoo-agi/dialplan"
	"github.com/odoo-agi/odoo-agi/internal/wait"
	"github.com/odoo-agi/odoo-agi/odoo/odootest"
)

// TestTwoInstancesPostEachCallOnce: two odoo-agi share one Odoo and one
// Asterisk. Both spool the hangup of each of 40 calls at the same moment
// (a retry after a lost answer, or a dialplan that sends it to both), and
// each call gets exactly one note. Click-to-dial and cards work from
// either.
func TestTwoInstancesPostEachCallOnce(t *testing.T) {
	o, odooURL := odootest.StartT(t)
	o.AddUser("john", "John Seller")
	o.Upsert(odootest.Partner{Name: "ACME SA", IsCompany: true, Phone: "02 555 12 34"})
	pbx, amiAddr := amitest.StartT(t)
	lns := make([]net.Listener, 2)
	for i := range lns {
		var err error
		if lns[i], err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	}
	ds := make([]*Daemon, 2)
	for i := range ds {
		p := writeConfig(t, fmt.Sprintf(`[agi]
listen = "127.0.0.1:0"
[odoo]
url = %q
cache_file = ""
[ami]
address = %q
secret = "secret"
[api]
listen = %q
[calllog]
enabled = true
spool_dir = %q
[cluster]
name = "agi%d"
peers = ["http://%s"]
secret = "a shared secret of both"
[[users]]
login = "john"
exten = "101"
  [[users.channels]]
  name = "PJSIP/101"
  originate = true
`, odooURL, amiAddr, lns[i].Addr(), t.TempDir(), i+1, lns[1-i].Addr()))
		ds[i], _ = serveConfigT(t, p, lns[i])
		wait.For(t, "the manager login", 10*time.Second, func() bool { return ds[i].AMI.State().Connected })
	}

	const calls = 40
	var wg sync.WaitGroup
	for n := range calls {
		for _, d := range ds {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				uid := "1733400000." + strconv.Itoa(n)
				args := []string{"in", "025551234", "", "1733400000", uid, uid, "NOANSWER", "", "", "PJSIP/101", "025551234"}
				if _, err := (agitest.Call{Script: "hangup", Args: args}).Run(ctx, d.AGIAddr()); err != nil {
					t.Error(err)
				}
			}()
		}
	}
	wg.Wait()
	settled := func() bool {
		var n int64
		for _, d := range ds {
			st := d.Deliverer.Stats()
			n += st.Delivered + st.Skipped
		}
		return n == 2*calls
	}
	wait.For(t, "both instances to settle every call", 20*time.Second, settled)
	for n := range calls {
		if notes := notesWith(o, "[odoo-agi call 1733400000."+strconv.Itoa(n)+"]"); len(notes) != 1 {
			t.Errorf("call %d: %d notes, want 1", n, len(notes))
		}
	}
	a, b := ds[0].Deliverer.Stats(), ds[1].Deliverer.Stats()
	t.Logf("agi1 posted %d and left %d to agi2; agi2 posted %d and left %d", a.Delivered, a.Skipped, b.Delivered, b.Skipped)

	for i, d := range ds {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		res, err := d.Originator.Call(ctx, dialplan.CallRequest{User: "john", Number: "025559999"})
		cancel()
		if err != nil || res.Status != dialplan.Answered {
			t.Errorf("click-to-dial from agi%d: %+v, %v", i+1, res, err)
		}
	}
	var streams []<-chan dialplan.CallEvent
	for _, d := range ds {
		_, ch, stop := d.Live.Subscribe("john", 0)
		defer stop()
		streams = append(streams, ch)
	}
	uid := "1733400100.1"
	pbx.EmitDialBegin(amitest.Chan{Name: "PJSIP/trunk-00000009", CallerIDNum: "025551234", Uniqueid: uid, Linkedid: uid},
		amitest.Chan{Name: "PJSIP/101-0000000a", Uniqueid: uid + "1", Linkedid: uid}, "PJSIP/101")
	for i, ch := range streams {
		if ev := next(t, ch); ev.State != dialplan.Ringing || ev.Call != uid {
			t.Errorf("agi%d's card: %+v", i+1, ev)
		}
	}
}
