package dialplan

import (
	"fmt"
	"strings"
)

// Channel is one Asterisk channel of a PBX user.
type Channel struct {
	Name       string // e.g. PJSIP/101
	Context    string // dialplan context for calls the user places; default from-internal
	Originate  bool   // rings for click-to-dial
	AutoAnswer string // a preset name or a raw "Header: value"
}

// User is an Odoo user connected to Asterisk channels and an extension.
type User struct {
	Login    string // the Odoo login
	Exten    string
	Channels []Channel
}

// DialString joins the user's channels with '&', ready for Dial().
func (u User) DialString() string {
	names := make([]string, len(u.Channels))
	for i, c := range u.Channels {
		names[i] = c.Name
	}
	return strings.Join(names, "&")
}

// Users is the PBX user table.
type Users []User

// Logins lists the users' Odoo logins.
func (us Users) Logins() []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.Login
	}
	return out
}

// Find returns the user with this login or extension.
func (us Users) Find(loginOrExten string) (User, bool) {
	for _, u := range us {
		if u.Login == loginOrExten || u.Exten == loginOrExten {
			return u, true
		}
	}
	return User{}, false
}

// Validate checks what Asterisk would reject later.
func (us Users) Validate() error {
	seen := map[string]bool{}
	for i, u := range us {
		if u.Login == "" {
			return fmt.Errorf("users[%d]: login is empty", i)
		}
		if seen[u.Login] {
			return fmt.Errorf("users[%d]: login %q appears twice", i, u.Login)
		}
		seen[u.Login] = true
		for j, c := range u.Channels {
			tech, res, ok := strings.Cut(c.Name, "/")
			if !ok || tech == "" || res == "" || strings.ContainsAny(c.Name, "&,|() \t\"") {
				return fmt.Errorf("users[%d] (%s) channels[%d]: name %q is not a channel such as PJSIP/101", i, u.Login, j, c.Name)
			}
		}
	}
	return nil
}
