package odootest

import (
	"fmt"
	"html"
	"sort"
	"strings"
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
	modelPartnerID = 85 // as mail.activity default_get gave on a real Odoo 16
	activityCallID = 2
)

// FailActivities makes mail.activity create fail with a Fault 2 carrying
// msg, as Odoo does when the assignee cannot see the record; "" restores it.
func (s *Server) FailActivities(msg string) { set(&s.mu, &s.activityFault, msg) }

// DenyPartnerWrite takes Contact Creation from every user: message_post
// and activity creation on partners fail with Fault 4, as for a user
// without that right.
func (s *Server) DenyPartnerWrite(deny bool) { set(&s.mu, &s.denyWrite, deny) }

// DenyWriteOn makes one partner unwritable, as a record rule does: only
// posts on that partner fail.
func (s *Server) DenyWriteOn(partnerID int, deny bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readOnly[partnerID] = deny
}

// canWrite reports whether uid may write partner id (Fault 4 if not).
func (s *Server) canWrite(uid, id int) error {
	u := s.users[uid]
	switch {
	case u.Admin:
		return nil
	case !u.ContactCreation || s.denyWrite:
		if s.version >= 19 {
			return errNoRight19
		}
		return errNoRight
	case s.partners[id] != nil && !s.sees(s.partners[id]):
		return s.hiddenPartner(uid, id)
	case s.readOnly[id]:
		return &Fault{4, "The requested operation cannot be completed due to security restrictions. Please contact your system administrator.\n\n(Document type: Contact, Operation: write)"}
	}
	return nil
}

// partnerCreateFields are the fields a create here may set (mobile is
// gone on 19).
var partnerCreateFields = map[string]bool{"name": true, "phone": true, "mobile": true, "user_id": true, "parent_id": true,
	"country_id": true, "is_company": true, "company_id": true}

// partnerCreate is res.partner create(vals) as uid, which needs Contact
// Creation: one dict gives an id, a list gives a list (JSON-2 sends a list).
func (s *Server) partnerCreate(uid int, args []any) (any, error) {
	if u := s.users[uid]; !u.Admin && (!u.ContactCreation || s.denyWrite) {
		if s.version >= 19 {
			return nil, errNoCreate19
		}
		return nil, errNoCreate
	}
	list, single := valsList(args)
	var ids []any
	for _, vals := range list {
		for k := range vals {
			if k == "mobile" && s.version >= 19 || !partnerCreateFields[k] {
				return nil, &Fault{2, fmt.Sprintf("Invalid field '%s' on model 'res.partner'", k)}
			}
		}
		name, _ := vals["name"].(string)
		if strings.TrimSpace(name) == "" {
			return nil, &Fault{2, "Contacts require a name"}
		}
		p := Partner{Name: name, Active: true, WriteDate: s.now()}
		p.Phone, _ = vals["phone"].(string)
		p.Mobile, _ = vals["mobile"].(string)
		p.UserID, p.ParentID, p.CountryID = toInt(vals["user_id"]), toInt(vals["parent_id"]), toInt(vals["country_id"])
		p.IsCompany, _ = vals["is_company"].(bool)
		var err error
		if p.CompanyID, err = s.companyOf(uid, vals, "res.partner", "Contact"); err != nil {
			return nil, err
		}
		s.multiCompany = s.multiCompany || p.CompanyID != 0
		s.nextID++
		p.ID = s.nextID
		s.partners[p.ID] = &p
		s.rendered = nil
		ids = append(ids, p.ID)
	}
	return created(ids, single), nil
}

// partnerWrite is res.partner write(ids, vals) as uid, for the fields a
// contact form changes here: name, phone, mobile (gone on 19).
func (s *Server) partnerWrite(uid int, args []any) (any, error) {
	ids, _ := first(args).([]any)
	var vals map[string]any
	if len(args) > 1 {
		vals, _ = args[1].(map[string]any)
	}
	for k := range vals {
		if k == "mobile" && s.version >= 19 || k != "name" && k != "phone" && k != "mobile" {
			return nil, &Fault{2, fmt.Sprintf("Invalid field '%s' on model 'res.partner'", k)}
		}
	}
	for _, v := range ids {
		id, _ := v.(int)
		if err := s.canWrite(uid, id); err != nil {
			return nil, err
		}
		p, ok := s.partners[id]
		if !ok {
			return nil, &Fault{2, fmt.Sprintf("Record does not exist or has been deleted.\n(Record: res.partner(%d,), User: %d)", id, uid)}
		}
		cp := *p
		if v, ok := vals["name"].(string); ok {
			cp.Name = v
		}
		if v, ok := vals["phone"].(string); ok {
			cp.Phone = v
		}
		if v, ok := vals["mobile"].(string); ok {
			cp.Mobile = v
		}
		cp.WriteDate = s.now()
		s.partners[id] = &cp
		s.rendered = nil
	}
	return true, nil
}

// valsList reads create's argument: one dict (XML-RPC), or a list of them
// (JSON-2's vals_list); single says which, for the answer's shape.
func valsList(args []any) (list []map[string]any, single bool) {
	if one, ok := first(args).(map[string]any); ok {
		return []map[string]any{one}, true
	}
	l, _ := first(args).([]any)
	for _, v := range l {
		m, _ := v.(map[string]any)
		list = append(list, m)
	}
	return list, false
}

// created answers a create: an id for one dict, else the list of ids.
func created(ids []any, single bool) any {
	if single && len(ids) == 1 {
		return ids[0]
	}
	return ids
}

// subtypeNoteID is mail.mt_note's id.
const subtypeNoteID = 2

// messageCreate is mail.message create(vals) as uid: the note a JSON-2
// client posts when its body must stay HTML (ODOO-WIRE.md, "A link in a
// chatter note"). It needs write access to the document.
func (s *Server) messageCreate(uid int, args []any) (any, error) {
	list, single := valsList(args)
	var ids []any
	for _, vals := range list {
		model, _ := vals["model"].(string)
		resID := toInt(vals["res_id"])
		if model != "res.partner" {
			return nil, &Fault{2, "odootest: mail.message create on " + model + " is not emulated"}
		}
		if err := s.canWrite(uid, resID); err != nil {
			return nil, err
		}
		if _, ok := s.partners[resID]; !ok {
			return nil, &Fault{2, fmt.Sprintf("Record does not exist or has been deleted.\n(Record: res.partner(%d,), User: %d)", resID, uid)}
		}
		if s.users[uid].Email == "" { // the author's email, as message_post wants it (conservative)
			return nil, errNoEmail
		}
		body, _ := vals["body"].(string)
		mt, _ := vals["message_type"].(string)
		st := ""
		if toInt(vals["subtype_id"]) == subtypeNoteID {
			st = "mail.mt_note"
		}
		s.nextID++
		s.messages = append(s.messages, Message{ID: s.nextID, Model: model, ResID: resID, Body: body, MessageType: mt, Subtype: st, AuthorUID: uid})
		ids = append(ids, s.nextID)
	}
	return created(ids, single), nil
}

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
// Like Odoo's index on (model, res_id), a domain that requires one res_id
// renders only that record's rows: the search answers the same, in time
// that does not grow with every note ever posted.
func (s *Server) mailRows(model string, domain []any) (rows []record, fields []string, ok bool) {
	resID, one := requiredInt(domain, "res_id")
	other := func(id int) bool { return one && id != resID }
	switch model {
	case "mail.message":
		for _, m := range s.messages {
			if other(m.ResID) {
				continue
			}
			rows = append(rows, record{"id": m.ID, "model": m.Model, "res_id": m.ResID, "body": m.Body,
				"message_type": m.MessageType, "author_id": m.AuthorUID})
		}
		return rows, []string{"id", "model", "res_id", "body", "message_type", "author_id"}, true
	case "mail.activity":
		for _, a := range s.activities {
			if other(a.ResID) {
				continue
			}
			rows = append(rows, record{"id": a.ID, "res_model_id": []any{a.ResModelID, "Contact"}, "res_model": a.ResModel,
				"res_id": a.ResID, "activity_type_id": []any{a.ActivityTypeID, "Call"}, "summary": a.Summary,
				"note": a.Note, "date_deadline": a.DateDeadline, "user_id": a.UserID})
		}
		return rows, []string{"id", "res_model_id", "res_model", "res_id", "activity_type_id", "summary", "note", "date_deadline", "user_id"}, true
	case "mail.message.subtype":
		rows = []record{{"id": 1, "name": "Discussions", "internal": false}, {"id": subtypeNoteID, "name": "Note", "internal": true}}
		return rows, []string{"id", "name", "internal"}, true
	case "mail.activity.type":
		rows = []record{
			{"id": 1, "name": "Email", "category": "default", "active": true},
			{"id": activityCallID, "name": "Call", "category": "phonecall", "active": true},
			{"id": 4, "name": "To-Do", "category": "default", "active": true},
			{"id": 9, "name": "Call for Demo", "category": "phonecall", "active": true},
		}
		return rows, []string{"id", "name", "category"}, true
	case "ir.model":
		rows = []record{{"id": modelPartnerID, "model": "res.partner", "name": "Contact"}, {"id": 79, "model": "res.users", "name": "User"}}
		return rows, []string{"id", "model", "name"}, true
	}
	return nil, nil, false
}

// The faults a real Odoo 16 gave, verbatim (docs/odoo-wire.md).
var (
	errNoRight = &Fault{4, "You are not allowed to modify 'Contact' (res.partner) records.\n\nThis operation is allowed for the following groups:\n\t- Extra Rights/Contact Creation\n\t- Sales/User: Own Documents Only\n\nContact your administrator to request access if necessary."}
	// Odoo 19 renamed the groups ("Contact / Creation").
	errNoRight19  = &Fault{4, "You are not allowed to modify 'Contact' (res.partner) records.\n\nThis operation is allowed for the following groups:\n\t- Contact/Creation\n\nContact your administrator to request access if necessary."}
	errNoEmail    = &Fault{2, "Unable to post message, please configure the sender's email address."}
	errNoCreate   = &Fault{4, "You are not allowed to create 'Contact' (res.partner) records.\n\nThis operation is allowed for the following groups:\n\t- Extra Rights/Contact Creation\n\t- Sales/User: Own Documents Only\n\nContact your administrator to request access if necessary."}
	errNoCreate19 = &Fault{4, "You are not allowed to create 'Contact' (res.partner) records.\n\nThis operation is allowed for the following groups:\n\t- Contact/Creation\n\nContact your administrator to request access if necessary."}
	errNoActivity = &Fault{4, "Due to security restrictions, you are not allowed to create 'Activity' (mail.activity) records.\n\nContact your administrator to request access if necessary."}
	errNoModel    = &Fault{2, "The operation cannot be completed:\n- Create/update: a mandatory field is not set.\n- Delete: another model requires the record being deleted. If possible, archive it instead.\n\nModel: Activity (mail.activity)\nField: Document Model (res_model_id)"}
)

// noAccess is Fault 4 on a model only Administration/Access Rights reads.
func noAccess(model string) error {
	label := map[string]string{"ir.model": "Models", "ir.model.data": "Model Data"}[model]
	return &Fault{4, fmt.Sprintf("You are not allowed to access '%s' (%s) records.\n\nThis operation is allowed for the following groups:\n\t- Administration/Access Rights\n\nContact your administrator to request access if necessary.", label, model)}
}

// messagePost is res.partner message_post(body=…, message_type=…,
// subtype_xmlid=…) on one record.
func (s *Server) messagePost(uid int, args []any, kw map[string]any) (any, error) {
	ids, _ := first(args).([]any)
	if len(ids) != 1 {
		return nil, &Fault{1, "Traceback (most recent call last):\nValueError: Expected singleton: res.partner()"}
	}
	id, _ := ids[0].(int)
	if err := s.canWrite(uid, id); err != nil {
		return nil, err
	}
	if _, ok := s.partners[id]; !ok {
		return nil, &Fault{2, fmt.Sprintf("Record does not exist or has been deleted.\n(Record: res.partner(%d,), User: %d)", id, uid)}
	}
	if u := s.users[uid]; u == nil || u.Email == "" {
		return nil, errNoEmail
	}
	body, _ := kw["body"].(string)
	mt, _ := kw["message_type"].(string)
	st, _ := kw["subtype_xmlid"].(string)
	s.nextID++
	s.messages = append(s.messages, Message{ID: s.nextID, Model: "res.partner", ResID: id,
		Body: "<p>" + html.EscapeString(body) + "</p>", MessageType: mt, Subtype: st, AuthorUID: uid})
	return s.nextID, nil
}

// activityDefaults is mail.activity default_get(fields): with the context
// default_res_model it gives the model and its ir.model id, which is how a
// user outside Administration learns that id.
func (s *Server) activityDefaults(args []any, kw map[string]any) (any, error) {
	all := map[string]any{"activity_type_id": 4}
	ctx, _ := kw["context"].(map[string]any)
	if ctx["default_res_model"] == "res.partner" {
		all["res_model"], all["res_model_id"] = "res.partner", modelPartnerID
	}
	want, _ := first(args).([]any)
	if len(want) == 0 {
		return all, nil
	}
	out := map[string]any{}
	for _, f := range want {
		name, _ := f.(string)
		if v, ok := all[name]; ok {
			out[name] = v
		}
	}
	return out, nil
}

// activityCreate is mail.activity create(vals). The document model comes
// from res_model_id, or from the context default_res_model; res_model alone
// is not enough (Fault 2).
func (s *Server) activityCreate(uid int, args []any, kw map[string]any) (any, error) {
	vals, _ := first(args).(map[string]any)
	if list, ok := first(args).([]any); ok && len(list) == 1 {
		vals, _ = list[0].(map[string]any)
	}
	if vals == nil {
		return nil, &Fault{1, "Traceback (most recent call last):\nTypeError: create() needs a dict of values"}
	}
	var keys []string
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	known := map[string]bool{"res_model_id": true, "res_model": true, "res_id": true, "activity_type_id": true, "summary": true, "note": true, "date_deadline": true, "user_id": true}
	for _, k := range keys {
		if !known[k] {
			return nil, &Fault{1, fmt.Sprintf("Traceback (most recent call last):\nValueError: Invalid field '%s' on model 'mail.activity'", k)}
		}
	}
	a := Activity{ResModel: "res.partner"}
	a.ResModelID, _ = vals["res_model_id"].(int)
	if ctx, _ := kw["context"].(map[string]any); a.ResModelID == 0 && ctx["default_res_model"] == "res.partner" {
		a.ResModelID = modelPartnerID
	}
	if a.ResModelID == 0 {
		return nil, errNoModel
	}
	a.ResID, _ = vals["res_id"].(int)
	if err := s.canWrite(uid, a.ResID); err != nil {
		if err == errNoRight || err == errNoRight19 {
			return nil, errNoActivity
		}
		return nil, err
	}
	if s.activityFault != "" {
		return nil, &Fault{2, s.activityFault}
	}
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

// activitySchedule is res.partner activity_schedule as Odoo 16 answers it
// over XML-RPC: it creates the activity, then faults, because the recordset
// it returns cannot be marshalled. A retry would create a second one.
func (s *Server) activitySchedule(uid int, args []any, kw map[string]any) (any, error) {
	ids, _ := first(args).([]any)
	var created []any
	for _, v := range ids {
		id := toInt(v)
		vals := map[string]any{"res_model_id": modelPartnerID, "res_id": id, "activity_type_id": 4,
			"date_deadline": s.now().Format("2006-01-02")}
		for _, k := range []string{"summary", "note", "user_id", "date_deadline"} {
			if v, ok := kw[k]; ok {
				vals[k] = v
			}
		}
		aid, err := s.activityCreate(uid, []any{vals}, nil)
		if err != nil {
			return nil, err
		}
		created = append(created, aid)
	}
	if s.version >= 19 {
		return created, nil // 19 marshals a recordset as its ids
	}
	return nil, &Fault{1, "Traceback (most recent call last):\n  File \"/usr/lib/python3/dist-packages/odoo/service/wsgi_server.py\", line 97, in xmlrpc_2\nTypeError: cannot marshal <class 'odoo.api.mail.activity'> objects"}
}

func first(args []any) any {
	if len(args) == 0 {
		return nil
	}
	return args[0]
}
