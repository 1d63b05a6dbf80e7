package odootest

import (
	"fmt"
	"html"
	"sort"
)

// Message is one mail.message posted on a record's chatter.
type Message struct {
	ID          int
	Model       string
	ResID       int
	Body        string // as Odoo stores it: HTML, the posted text escaped
	MessageType string
	Subtype     string
	AuthorUID   int
}

// Activity is one mail.activity.
type Activity struct {
	ID             int
	ResModelID     int
	ResModel       string
	ResID          int
	ActivityTypeID int
	Summary        string
	Note           string
	DateDeadline   string
	UserID         int
}

// The ir.model ids and mail.activity.type ids the emulator knows.
const (
	modelPartnerID = 78
	activityCallID = 2
)

// FailActivities makes mail.activity create fail with a Fault 2 carrying
// msg, as Odoo does when the assignee cannot see the record; "" restores it.
func (s *Server) FailActivities(msg string) { set(&s.mu, &s.activityFault, msg) }

// DenyPartnerWrite makes message_post and activity creation on partners
// fail with Fault 4, as for a user without the "Contact Creation" right.
func (s *Server) DenyPartnerWrite(deny bool) { set(&s.mu, &s.denyWrite, deny) }

// SetUserEmail sets a user's email; message_post needs one on the author.
func (s *Server) SetUserEmail(login, email string) {
	s.updateUser(login, func(u *User) { u.Email = email })
}

// Messages returns the posted messages, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Activities returns the created activities, oldest first.
func (s *Server) Activities() []Activity {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Activity(nil), s.activities...)
}

// mailRows renders the mail models for search; ok is false for other models.
func (s *Server) mailRows(model string) (rows []record, fields []string, ok bool) {
	switch model {
	case "mail.message":
		for _, m := range s.messages {
			rows = append(rows, record{"id": m.ID, "model": m.Model, "res_id": m.ResID, "body": m.Body,
				"message_type": m.MessageType, "author_id": m.AuthorUID})
		}
		return rows, []string{"id", "model", "res_id", "body", "message_type", "author_id"}, true
	case "mail.activity":
		for _, a := range s.activities {
			rows = append(rows, record{"id": a.ID, "res_model_id": []any{a.ResModelID, "Contact"}, "res_model": a.ResModel,
				"res_id": a.ResID, "activity_type_id": []any{a.ActivityTypeID, "Call"}, "summary": a.Summary,
				"note": a.Note, "date_deadline": a.DateDeadline, "user_id": a.UserID})
		}
		return rows, []string{"id", "res_model_id", "res_model", "res_id", "activity_type_id", "summary", "note", "date_deadline", "user_id"}, true
	case "mail.activity.type":
		rows = []record{
			{"id": 1, "name": "Email", "category": "default", "active": true},
			{"id": activityCallID, "name": "Call", "category": "phonecall", "active": true},
			{"id": 4, "name": "To-Do", "category": "default", "active": true},
		}
		return rows, []string{"id", "name", "category"}, true
	case "ir.model":
		rows = []record{{"id": modelPartnerID, "model": "res.partner", "name": "Contact"}, {"id": 79, "model": "res.users", "name": "User"}}
		return rows, []string{"id", "model", "name"}, true
	}
	return nil, nil, false
}

var errNoRight = &Fault{4, "You are not allowed to modify 'Contact' (res.partner) records.\n\nThis operation is allowed for the following groups:\n\t- Extra Rights/Contact Creation"}

// messagePost is res.partner message_post(body=…, message_type=…,
// subtype_xmlid=…) on one record.
func (s *Server) messagePost(uid int, args []any, kw map[string]any) (any, error) {
	ids, _ := first(args).([]any)
	if len(ids) != 1 {
		return nil, &Fault{1, "Traceback (most recent call last):\nValueError: Expected singleton: res.partner()"}
	}
	id, _ := ids[0].(int)
	if s.denyWrite {
		return nil, errNoRight
	}
	if _, ok := s.partners[id]; !ok {
		return nil, &Fault{2, fmt.Sprintf("Record does not exist or has been deleted.\n(Record: res.partner(%d,), User: %d)", id, uid)}
	}
	if u := s.users[uid]; u == nil || u.Email == "" {
		return nil, &Fault{2, "Unable to post message, please configure the sender's email address."}
	}
	body, _ := kw["body"].(string)
	mt, _ := kw["message_type"].(string)
	st, _ := kw["subtype_xmlid"].(string)
	s.nextID++
	s.messages = append(s.messages, Message{ID: s.nextID, Model: "res.partner", ResID: id,
		Body: "<p>" + html.EscapeString(body) + "</p>", MessageType: mt, Subtype: st, AuthorUID: uid})
	return s.nextID, nil
}

// activityCreate is mail.activity create(vals).
func (s *Server) activityCreate(args []any) (any, error) {
	vals, _ := first(args).(map[string]any)
	if list, ok := first(args).([]any); ok && len(list) == 1 {
		vals, _ = list[0].(map[string]any)
	}
	if vals == nil {
		return nil, &Fault{1, "Traceback (most recent call last):\nTypeError: create() needs a dict of values"}
	}
	if s.denyWrite {
		return nil, errNoRight
	}
	if s.activityFault != "" {
		return nil, &Fault{2, s.activityFault}
	}
	var keys []string
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	known := map[string]bool{"res_model_id": true, "res_id": true, "activity_type_id": true, "summary": true, "note": true, "date_deadline": true, "user_id": true}
	for _, k := range keys {
		if !known[k] {
			return nil, &Fault{1, fmt.Sprintf("Traceback (most recent call last):\nValueError: Invalid field '%s' on model 'mail.activity'", k)}
		}
	}
	a := Activity{ResModel: "res.partner"}
	a.ResModelID, _ = vals["res_model_id"].(int)
	a.ResID, _ = vals["res_id"].(int)
	a.ActivityTypeID, _ = vals["activity_type_id"].(int)
	a.Summary, _ = vals["summary"].(string)
	a.Note, _ = vals["note"].(string)
	a.DateDeadline, _ = vals["date_deadline"].(string)
	a.UserID, _ = vals["user_id"].(int)
	if a.ResModelID != modelPartnerID || a.ActivityTypeID == 0 || a.DateDeadline == "" {
		return nil, &Fault{1, "Traceback (most recent call last):\npsycopg2.errors.NotNullViolation: null value in a required column of mail_activity"}
	}
	if _, ok := s.partners[a.ResID]; !ok {
		return nil, &Fault{2, "Record does not exist or has been deleted."}
	}
	s.nextID++
	a.ID = s.nextID
	a.Note = "<p>" + html.EscapeString(a.Note) + "</p>"
	s.activities = append(s.activities, a)
	return a.ID, nil
}

func first(args []any) any {
	if len(args) == 0 {
		return nil
	}
	return args[0]
}
