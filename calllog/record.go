package calllog

import (
	"fmt"
	"time"
)

// Directions of a call.
const (
	Incoming = "in"
	Outgoing = "out"
	Click    = "click" // click-to-dial: the second leg, to the partner
)

// Record is one finished call, as the hangup handler saw it.
type Record struct {
	UniqueID  string    `json:"uniqueid"`
	LinkedID  string    `json:"linkedid,omitempty"`
	Direction string    `json:"direction"`
	Number    string    `json:"number"`               // the other party, E.164 when known
	PartnerID int       `json:"partner_id,omitempty"` // from ODOO_PARTNER_ID
	Status    string    `json:"status"`               // DIALSTATUS: ANSWER, NOANSWER, BUSY, …
	Talk      Duration  `json:"talk"`                 // ANSWEREDTIME
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Peer      string    `json:"peer,omitempty"` // the channel that answered or was rung, e.g. PJSIP/101
	User      string    `json:"user,omitempty"` // the PBX user (Odoo login) who answered, was called or called
	Exten     string    `json:"exten,omitempty"`
	PBX       string    `json:"pbx,omitempty"` // the PBX's name, when there are several

	// Delivery state, for a call retried on its own (the retry spool).
	NotePosted bool   `json:"note_posted,omitempty"` // the note is in Odoo; only the activity is left
	Attempts   int    `json:"attempts,omitempty"`
	RetryAt    int64  `json:"retry_at,omitempty"` // Unix seconds
	LastError  string `json:"last_error,omitempty"`
}

// Key names the call among all PBXs' calls: its uniqueid, after its PBX's
// name when there are several (two Asterisks may give the same uniqueid).
func (r Record) Key() string {
	if r.PBX != "" {
		return r.PBX + ":" + r.UniqueID
	}
	return r.UniqueID
}

// Answered reports whether someone picked up.
func (r Record) Answered() bool { return r.Status == "ANSWER" || r.Talk.Duration > 0 }

// Missed reports an unanswered incoming call.
func (r Record) Missed() bool { return r.Direction == Incoming && !r.Answered() }

// Duration is a time.Duration written as seconds.
type Duration struct{ time.Duration }

// MarshalJSON writes whole seconds.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(fmt.Sprint(int64(d.Seconds()))), nil
}

// UnmarshalJSON reads seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s int64
	if _, err := fmt.Sscan(string(b), &s); err != nil {
		return err
	}
	d.Duration = time.Duration(s) * time.Second
	return nil
}
