package daemon

import (
	"fmt"
	"strings"
)

// PJSIP writes the pjsip.conf sections for every user with a softphone: the
// WebSocket transport once, then each endpoint with its auth and AOR. The
// endpoint takes the user's calls in the context of their phones, rings as
// their exten, and ends a call whose audio stopped (a closed tab sends no
// BYE). It holds the users' webrtc_secret: the output is a secret file.
func PJSIP(c *Config) string {
	var b strings.Builder
	fmt.Fprintf(&b, `; pjsip.conf sections for the phone page's softphone, from %s by odoo-agi pjsip.
; Holds the endpoints' passwords: keep it as private as pjsip.conf itself.
; The transport rides on Asterisk's HTTP server (http.conf: enabled = yes,
; bindaddr = 127.0.0.1, bindport = 8088); odoo-agi relays the page to it.

[transport-ws]
type = transport
protocol = ws
bind = 127.0.0.1
`, c.Path)
	n := 0
	for _, u := range c.users() {
		if u.WebRTC == "" {
			continue
		}
		n++
		context := "from-internal"
		if len(u.Channels) > 0 {
			context = u.Channels[0].Context
		}
		for _, ch := range u.Channels {
			if ch.Originate {
				context = ch.Context
				break
			}
		}
		fmt.Fprintf(&b, `
; %s
[%s]
type = endpoint
context = %s
transport = transport-ws
webrtc = yes
disallow = all
allow = ulaw,alaw
rtp_symmetric = yes
force_rport = yes
direct_media = no
dtmf_mode = rfc4733
rtp_timeout = 10
`, u.Login, u.WebRTC, context)
		if u.Exten != "" {
			fmt.Fprintf(&b, "callerid = <%s>\n", u.Exten)
		}
		fmt.Fprintf(&b, `auth = %[1]s
aors = %[1]s

[%[1]s]
type = auth
auth_type = userpass
username = %[1]s
password = %[2]s

[%[1]s]
type = aor
max_contacts = 5
remove_existing = yes
`, u.WebRTC, u.WebRTCSecret)
	}
	if n == 0 {
		b.WriteString("\n; No [[users]] entry has webrtc = \"…\": there is no endpoint to write.\n")
	}
	return b.String()
}
