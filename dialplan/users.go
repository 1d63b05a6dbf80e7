package dialplan

import (
	"fmt"
	"regexp"
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
	Admin    bool // sees the phone page's status view
	// WebRTC is the user's PJSIP endpoint for the phone page's softphone
	// (also its AOR and auth username); "" means none. WebRTCSecret is its
	// digest password, handed to that user's own signed-in page only.
	WebRTC       string
	WebRTCSecret string
	PBX          string // the name of the PBX the user's phones are on
}

// DialString joins the user's channels with '&', ready for Dial(); the
// softphone's endpoint rings too.
func (u User) DialString() string {
	var names []string
	for _, c := range u.Channels {
		names = append(names, c.Name)
	}
	if u.WebRTC != "" {
		names = append(names, "PJSIP/"+u.WebRTC)
	}
	return strings.Join(names, "&")
}

// Users is the PBX user table.
type Users []User

// On keeps the users of the PBX named pbx: only they can be rung, or
// matched to a channel, from its calls.
func (us Users) On(pbx string) Users {
	out := make(Users, 0, len(us))
	for _, u := range us {
		if u.PBX == pbx {
			out = append(out, u)
		}
	}
	return out
}

// Logins lists the users' Odoo logins.
func (us Users) Logins() []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.Login
	}
	return out
}

// ByLogin returns the user with this Odoo login. A login is one identity
// and an extension another: a login is never matched against an exten.
func (us Users) ByLogin(login string) (User, bool) {
	for _, u := range us {
		if u.Login == login {
			return u, true
		}
	}
	return User{}, false
}

// ByExten returns the first user with this extension.
func (us Users) ByExten(exten string) (User, bool) {
	if exten == "" {
		return User{}, false
	}
	for _, u := range us {
		if u.Exten == exten {
			return u, true
		}
	}
	return User{}, false
}

var endpointName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

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
		for j, o := range us {
			if j != i && u.Exten != "" && u.Exten == o.Login {
				return fmt.Errorf("users[%d] (%s): exten %q is users[%d]'s login; give every login and exten its own value, so that no one reads as the other", i, u.Login, u.Exten, j)
			}
		}
		if u.WebRTC != "" || u.WebRTCSecret != "" {
			if !endpointName.MatchString(u.WebRTC) {
				return fmt.Errorf("users[%d] (%s): webrtc %q is not a PJSIP endpoint name such as webrtc_101 (letters, digits, _ . -)", i, u.Login, u.WebRTC)
			}
			if len(u.WebRTCSecret) < 12 {
				return fmt.Errorf("users[%d] (%s): webrtc_secret must be at least 12 characters; it is the endpoint's digest password", i, u.Login)
			}
			for j, o := range us[:i] {
				if o.WebRTC == u.WebRTC {
					return fmt.Errorf("users[%d] (%s): webrtc %q is users[%d]'s too; each softphone is one user's", i, u.Login, u.WebRTC, j)
				}
			}
		}
		keys := map[string]string{}
		context := ""
		for j, c := range u.Channels {
			tech, res, ok := strings.Cut(c.Name, "/")
			if !ok || tech == "" || res == "" || strings.ContainsAny(c.Name, "&,|() \t\"$\\{}[]") {
				return fmt.Errorf("users[%d] (%s) channels[%d]: name %q is not a channel such as PJSIP/101", i, u.Login, j, c.Name)
			}
			if c.Context == "" || strings.ContainsAny(c.Context, ",() \t\"$\\{}[]") {
				return fmt.Errorf("users[%d] (%s) channels[%d]: context %q is not a dialplan context such as from-internal", i, u.Login, j, c.Context)
			}
			if _, err := ParseAutoAnswer(c.AutoAnswer); err != nil {
				return fmt.Errorf("users[%d] (%s) channels[%d]: %w", i, u.Login, j, err)
			}
			if !c.Originate {
				continue
			}
			// One Originate dials the number through one context.
			if context != "" && c.Context != context {
				return fmt.Errorf("users[%d] (%s): originate channels use contexts %q and %q; click-to-dial dials through one, so give them the same", i, u.Login, context, c.Context)
			}
			context = c.Context
			k := autoAnswerKey(c.Name)
			if other, dup := keys[k]; dup {
				return fmt.Errorf("users[%d] (%s): channels %s and %s differ only in punctuation; the auto-answer handler cannot tell them apart", i, u.Login, other, c.Name)
			}
			keys[k] = c.Name
		}
	}
	return nil
}
