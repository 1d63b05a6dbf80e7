package daemon

import (
	"strings"
	"testing"
)

func TestPJSIPWritesAnEndpointPerSoftphone(t *testing.T) {
	c, err := LoadConfig(writeConfig(t, `[web]
enabled = true
[webrtc]
asterisk_ws = "ws://127.0.0.1:8088/ws"
[[users]]
login = "john"
exten = "101"
webrtc = "webrtc_101"
webrtc_secret = "john-softphone-secret"
  [[users.channels]]
  name = "PJSIP/101"
  context = "from-internal-restricted"
  originate = true
[[users]]
login = "ann"
exten = "102"
`))
	if err != nil {
		t.Fatal(err)
	}
	out := PJSIP(c)
	for _, want := range []string{
		"[transport-ws]\ntype = transport\nprotocol = ws\n",
		"[webrtc_101]\ntype = endpoint\ncontext = from-internal-restricted\ntransport = transport-ws\nwebrtc = yes\n",
		"rtp_timeout = 10\n", "dtmf_mode = rfc4733\n", "callerid = <101>\n",
		"[webrtc_101]\ntype = auth\nauth_type = userpass\nusername = webrtc_101\npassword = john-softphone-secret\n",
		"[webrtc_101]\ntype = aor\nmax_contacts = 5\nremove_existing = yes\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no\n%s\nin\n%s", want, out)
		}
	}
	if strings.Count(out, "type = endpoint") != 1 || strings.Contains(out, "ann\n[") {
		t.Errorf("one endpoint wanted, for john only:\n%s", out)
	}
}

func TestASoftphoneConfigIsChecked(t *testing.T) {
	base := "[web]\nenabled = true\n[webrtc]\nasterisk_ws = \"ws://127.0.0.1:8088/ws\"\n[[users]]\nlogin = \"john\"\n"
	for _, tc := range []struct{ conf, want string }{
		{base + "webrtc = \"webrtc 101\"\nwebrtc_secret = \"long-enough-secret\"\n", "is not a PJSIP endpoint name"},
		{base + "webrtc = \"webrtc_101\"\n", "webrtc_secret must be at least 12 characters"},
		{base + "webrtc = \"webrtc_101\"\nwebrtc_secret = \"long-enough-secret\"\n[[users]]\nlogin = \"ann\"\nwebrtc = \"webrtc_101\"\nwebrtc_secret = \"long-enough-secret\"\n", "users[0]'s too"},
		{"[webrtc]\nasterisk_ws = \"http://127.0.0.1:8088/ws\"\n", "want Asterisk's SIP WebSocket"},
		{"[web]\nenabled = false\n[webrtc]\nasterisk_ws = \"ws://127.0.0.1:8088/ws\"\n", "the softphone lives in the phone page"},
	} {
		_, err := LoadConfig(writeConfig(t, tc.conf))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.conf, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "long-enough-secret") {
			t.Errorf("the error shows the secret: %v", err)
		}
	}
}
