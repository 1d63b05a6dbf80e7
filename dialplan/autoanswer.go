package dialplan

import (
	"fmt"
	"sort"
	"strings"
)

// Header is one SIP header added to the INVITE sent to a user's phone.
type Header struct{ Name, Value string }

// Preset is a vendor's auto-answer header and the phone setting that must
// allow it. Sources are the vendors' manuals as found with the project's
// search tool; "unverified" marks the ones no manual in reach confirmed.
type Preset struct {
	Name    string // the [[users.channels]] auto_answer value
	Vendor  string
	Header  Header
	Setting string // what must be on in the phone
	Source  string
}

// Presets lists the vendors odoo-agi knows. A raw "Header: value" works
// for anything else.
var Presets = []Preset{
	{"yealink", "Yealink", Header{"Alert-Info", "info=alert-autoanswer"},
		"Features > Intercom > Intercom Allow: Enabled",
		"Yealink SIP-T2/T4/T5 Administrator Guides, 'Auto Answer': Alert-Info: info=alert-autoanswer; support.yealink.com/faq/faqInfo?id=546"},
	{"snom", "Snom", Header{"Alert-Info", "<http://127.0.0.1>;info=alert-autoanswer;delay=0"},
		"Advanced > Behavior > Intercom Policy (answer_after_policy): always or idle",
		"service.snom.com/display/wiki/answer_after_policy (intercom calls are those with the Alert-Info header)"},
	{"polycom", "Polycom/Poly", Header{"Alert-Info", "Ring Answer"},
		"voIpProt.SIP.alertInfo.1.value=Ring Answer and voIpProt.SIP.alertInfo.1.class=autoAnswer",
		"Polycom UC Software Administrator's Guide, voIpProt.SIP.alertInfo.x.class/value; blog.voip.school/2023/01/21/paging-and-intercom"},
	{"grandstream", "Grandstream", Header{"Call-Info", "<sip:127.0.0.1>;answer-after=0"},
		"Account > Call Settings > Allow Auto Answer by Call-Info: Yes",
		"Grandstream GXP User Manual, 'Allow Auto Answer by Call-Info: if the Call-Info header contains answer-after=0'"},
	{"cisco", "Cisco SPA/MPP", Header{"Call-Info", "<sip:127.0.0.1>;answer-after=0"},
		"Voice > User > Auto Answer Page: Yes",
		"unverified: no Cisco manual in reach states the header; Linksys/SPA use Call-Info answer-after per github.com noojee contact AutoAnswer enum"},
	{"fanvil", "Fanvil", Header{"Call-Info", "<sip:127.0.0.1>;answer-after=0"},
		"Line > Advanced: Enable Intercom / Intercom auto answer",
		"unverified: no Fanvil manual in reach; Call-Info answer-after=0 is the BroadSoft form most phones accept"},
	{"gigaset", "Gigaset", Header{"Call-Info", "<sip:127.0.0.1>;answer-after=0"},
		"Mobile devices > Call manager: accept calls directly (handsfree or headset)",
		"teamwork.gigaset.com/gigawiki 'FAQ - Auto-answer call'"},
	{"aastra", "Aastra/Mitel", Header{"Alert-Info", "<sip:127.0.0.1>;info=alert-autoanswer;delay=0"},
		"Basic Settings > Preferences > Incoming Intercom Settings > Auto-Answer (sip allow auto answer: 1)",
		"Aastra 6700i SIP Administrator Guide, 'Delay before Auto-Answer' (info=alert-autoanswer;delay=0)"},
	{"panasonic", "Panasonic", Header{"Alert-Info", "Intercom"},
		"the phone's auto answer for intercom calls",
		"FreePBX paging module autoanswerRows.php (Panasonic: Alert-Info Intercom)"},
	{"zoiper", "Zoiper", Header{"Call-Info", "<sip:127.0.0.1>;answer-after=0"},
		"Settings > Calls: auto answer on server request (paid editions only)",
		"blog.voip.school/2023/01/21/paging-and-intercom (Zoiper Free lacks it)"},
	{"microsip", "MicroSIP", Header{"Call-Info", "<sip:127.0.0.1>;answer-after=0"},
		"Settings > Auto Answer: control with SIP header",
		"blog.voip.school/2023/01/21/paging-and-intercom ('MicroSIP supports it')"},
	{"linphone", "Linphone/Baresip", Header{"Call-Info", "<sip:127.0.0.1>;answer-after=0"},
		"auto answer allowed in the client's call settings",
		"unverified: no Linphone or Baresip manual in reach confirms the header"},
	{"bria", "Bria (CounterPath)", Header{"Call-Info", "<sip:127.0.0.1>;answer-after=0"},
		"Preferences > Advanced: auto answer when the server asks",
		"unverified: Bria manuals in reach only describe the local Auto Answer option"},
	{"rfc5373", "RFC 5373 phones", Header{"Answer-Mode", "Auto"},
		"the phone must honour RFC 5373 Answer-Mode",
		"RFC 5373"},
}

// ParseAutoAnswer reads an auto_answer setting: "" (none), a preset name
// (case-insensitive), or a raw "Header: value" such as Asterisk Plus's
// "Alert-Info: Ring Answer".
func ParseAutoAnswer(s string) (*Header, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "none") {
		return nil, nil
	}
	for _, p := range Presets {
		if strings.EqualFold(p.Name, s) {
			h := p.Header
			return &h, nil
		}
	}
	name, value, ok := strings.Cut(s, ":")
	name, value = strings.TrimSpace(name), strings.TrimSpace(value)
	if !ok {
		names := make([]string, len(Presets))
		for i, p := range Presets {
			names[i] = p.Name
		}
		sort.Strings(names)
		return nil, fmt.Errorf("auto_answer %q: want a preset (%s) or a raw \"Header: value\"", s, strings.Join(names, ", "))
	}
	if name == "" || strings.Trim(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.!%*+`'~") != "" {
		return nil, fmt.Errorf("auto_answer %q: %q is not a SIP header name", s, name)
	}
	for _, r := range value {
		if r < 0x20 || r == 0x7f || r > 0x7e {
			return nil, fmt.Errorf("auto_answer %q: the value must be printable ASCII", s)
		}
	}
	return &Header{name, value}, nil
}

// autoAnswerKey names a channel's auto-answer variables. The pre-dial
// handler in extensions_odoo.conf computes the same key on the outbound
// channel: ${FILTER(0-9A-Za-z,${CHANNEL(name):0:-9})}, which drops the
// "-%08x" suffix chan_pjsip and chan_sip give channel names.
func autoAnswerKey(channel string) string {
	var b strings.Builder
	for _, r := range channel {
		if r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' {
			b.WriteRune(r)
		}
	}
	return b.String()
}
