package daemon

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/odoo-agi/odoo-agi/api"
	"github.com/odoo-agi/odoo-agi/calllog"
	"github.com/odoo-agi/odoo-agi/dialplan"
	"github.com/odoo-agi/odoo-agi/lookup"
	"github.com/odoo-agi/odoo-agi/odoo"
)

// Duration reads "200ms" and friends from TOML.
type Duration struct{ time.Duration }

func (d *Duration) UnmarshalText(b []byte) error {
	if days, ok := strings.CutSuffix(string(b), "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 {
			d.Duration = time.Duration(n) * 24 * time.Hour
			return nil
		}
	}
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration such as \"200ms\", \"30s\" or \"90d\"", b)
	}
	d.Duration = v
	return nil
}

// Config is config.toml. Keys are a contract: extend, never rename.
type Config struct {
	Debug bool `toml:"debug"`
	Log   struct {
		Format string `toml:"format"`
	} `toml:"log"`
	AGI struct {
		Listen        string   `toml:"listen"`
		Allow         []string `toml:"allow"`
		LookupTimeout Duration `toml:"lookup_timeout"`
		MaxSessions   int      `toml:"max_sessions"`
	} `toml:"agi"`
	Odoo struct {
		URL             string   `toml:"url"`
		DB              string   `toml:"db"`
		User            string   `toml:"user"`
		Password        string   `toml:"password"`
		APIKey          string   `toml:"api_key"`
		API             string   `toml:"api"`
		RefreshInterval Duration `toml:"refresh_interval"`
		FullSync        Duration `toml:"full_sync_interval"`
		LiveSearches    int      `toml:"live_search_concurrency"`
		IndexSize       int      `toml:"index_size"`
		CacheFile       string   `toml:"cache_file"`
		Timeout         Duration `toml:"timeout"`
	} `toml:"odoo"`
	// PBX is [pbx], the one PBX; PBXs are the [[pbx]] entries, when the
	// file has them instead (pbx.go).
	PBX      PBXConfig      `toml:"-"`
	PBXs     []PBXConfig    `toml:"-"`
	PBXRaw   toml.Primitive `toml:"pbx"`
	CallerID struct {
		Format           string `toml:"format"`
		MaxLength        int    `toml:"max_length"`
		ASCII            bool   `toml:"ascii"`
		GeolocateUnknown bool   `toml:"geolocate_unknown"`
	} `toml:"callerid"`
	AMI struct {
		Address string `toml:"address"`
		User    string `toml:"user"`
		Secret  string `toml:"secret"`
	} `toml:"ami"`
	Originate struct {
		Timeout          Duration `toml:"timeout"`
		Deny             []string `toml:"deny"`
		PerUserPerMinute int      `toml:"per_user_per_minute"`
	} `toml:"originate"`
	Web struct {
		Enabled        bool     `toml:"enabled"`
		OdooURL        string   `toml:"odoo_url"`
		SessionTTL     Duration `toml:"session_ttl"`
		ConfirmDial    bool     `toml:"confirm_dial"`
		Recheck        Duration `toml:"recheck"`
		TrustedProxies []string `toml:"trusted_proxies"`
		PublicURL      string   `toml:"public_url"` // where users reach this page, for links in Odoo
	} `toml:"web"`
	WebRTC struct {
		AsteriskWS string `toml:"asterisk_ws"` // Asterisk's SIP WebSocket; "" = no softphone
	} `toml:"webrtc"`
	Recordings struct {
		Dir  string   `toml:"dir"`  // where Asterisk's MixMonitor writes and odoo-agi reads; "" = no recording
		Keep Duration `toml:"keep"` // recordings older than this are deleted
	} `toml:"recordings"`
	History struct {
		File string   `toml:"file"` // the users' calls on disk (bbolt); "" = in memory only
		Keep Duration `toml:"keep"` // calls older than this go
	} `toml:"history"`
	API struct {
		Listen       string `toml:"listen"`
		User         string `toml:"user"`
		PasswordHash string `toml:"password_hash"`
		TLSCert      string `toml:"tls_cert"`
		TLSKey       string `toml:"tls_key"`
	} `toml:"api"`
	CallLog struct {
		Enabled            bool   `toml:"enabled"`
		SpoolDir           string `toml:"spool_dir"`
		MaxSpoolMB         int    `toml:"max_spool_mb"`
		MissedCallActivity bool   `toml:"missed_call_activity"`
		ActivityUser       string `toml:"activity_user"`
		UnknownCallers     string `toml:"unknown_callers"`
		Workers            int    `toml:"workers"` // calls posted to Odoo at once
	} `toml:"calllog"`
	Cluster struct {
		Name   string   `toml:"name"`   // this instance's, unique among them
		Peers  []string `toml:"peers"`  // the other instances' control API, e.g. "https://agi2:48008"
		Secret string   `toml:"secret"` // the same on every instance
	} `toml:"cluster"`
	Users []UserConfig `toml:"users"`

	Path    string         `toml:"-"` // the file it was read from, for messages
	allow   []netip.Prefix // every PBX's FastAGI peers
	proxies []netip.Prefix
}

// UserConfig is one [[users]] entry: an Odoo login and its channels.
type UserConfig struct {
	Login    string          `toml:"login"`
	Exten    string          `toml:"exten"`
	Admin    bool            `toml:"admin"` // sees the phone page's status view
	Channels []ChannelConfig `toml:"channels"`
	// WebRTC is the PJSIP endpoint of the user's softphone, and
	// WebRTCSecret its digest password.
	WebRTC       string `toml:"webrtc"`
	WebRTCSecret string `toml:"webrtc_secret"`
	PBX          string `toml:"pbx"` // the [[pbx]] name its phones are on
}

// ChannelConfig is one [[users.channels]] entry.
type ChannelConfig struct {
	Name       string `toml:"name"`
	Context    string `toml:"context"`
	Originate  bool   `toml:"originate"`
	AutoAnswer string `toml:"auto_answer"`
}

// DefaultConfig holds the default of every key.
func DefaultConfig() *Config {
	c := &Config{}
	c.Log.Format = "text"
	c.AGI.Listen = "127.0.0.1:4573"
	c.AGI.Allow = []string{"127.0.0.1/32", "::1/128"}
	c.AGI.LookupTimeout.Duration = dialplan.DefaultLookupTimeout
	c.AGI.MaxSessions = 1000
	c.Odoo.URL = "http://127.0.0.1:8069"
	c.Odoo.DB = "odoo"
	c.Odoo.User = "asterisk1"
	c.Odoo.Password = "asterisk1"
	c.Odoo.API = odoo.Auto
	c.Odoo.RefreshInterval.Duration = 30 * time.Second
	c.Odoo.FullSync.Duration = 6 * time.Hour
	c.Odoo.LiveSearches = 4
	c.Odoo.IndexSize = 1_000_000
	c.Odoo.CacheFile = "/var/lib/odoo-agi/index.snapshot"
	c.Odoo.Timeout.Duration = 30 * time.Second
	c.PBX = defaultPBX()
	c.CallerID.Format = "{display_name}"
	c.AMI.Address = "127.0.0.1:5038"
	c.AMI.User = "odoo"
	c.Originate.Timeout.Duration = dialplan.DefaultOriginateTimeout
	c.Originate.PerUserPerMinute = 10
	c.Web.Enabled = true
	c.Web.SessionTTL.Duration = 12 * time.Hour
	c.Web.ConfirmDial = true
	c.Web.Recheck.Duration = 5 * time.Minute
	c.API.Listen = "127.0.0.1:48008"
	c.API.User = "odoo"
	c.CallLog.SpoolDir = "/var/lib/odoo-agi/spool"
	c.History.Keep.Duration = 90 * 24 * time.Hour
	c.Recordings.Keep.Duration = 90 * 24 * time.Hour
	c.CallLog.MaxSpoolMB = 256
	c.CallLog.MissedCallActivity = true
	c.CallLog.ActivityUser = calllog.ActivitySalesperson
	c.CallLog.UnknownCallers = "skip"
	c.CallLog.Workers = 4
	return c
}

// ErrNoConfig: no file was given and none exists where we look.
var ErrNoConfig = errors.New("no config file")

// FindConfig applies the lookup order: -config, $ODOO_AGI_CONFIG,
// ./config.toml, /etc/odoo-agi/config.toml.
func FindConfig(flagPath string) (string, error) {
	if flagPath != "" {
		return flagPath, nil
	}
	if p := os.Getenv("ODOO_AGI_CONFIG"); p != "" {
		return p, nil
	}
	for _, p := range []string{"config.toml", "/etc/odoo-agi/config.toml"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: give -config FILE, set ODOO_AGI_CONFIG, or create ./config.toml or /etc/odoo-agi/config.toml", ErrNoConfig)
}

// LoadConfig reads, strictly decodes and validates a config file. Errors
// name the file, and the line or key.
func LoadConfig(path string) (*Config, error) {
	c := DefaultConfig()
	c.Path = path
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	md, err := toml.Decode(string(data), c)
	if err == nil {
		err = c.decodePBX(md)
	}
	if err != nil {
		keys := scanKeys(data)
		if msg := typeError(path, keys, err); msg != "" {
			return nil, errors.New(msg)
		}
		var pe toml.ParseError
		if errors.As(err, &pe) {
			if k, ok := find(keys, pe.LastKey); ok && k.raw != "" && k.line == pe.Position.Line {
				return nil, fmt.Errorf("%s:%d: `%s` %s", path, k.line, k.indexed, pe.Message)
			}
			return nil, fmt.Errorf("%s:%d: %s", path, pe.Position.Line, pe.Message)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		k, _ := find(scanKeys(data), und[0].String())
		msg := fmt.Sprintf("%s:%d: unknown key `%s` (misspelt, or from a newer version?)", path, k.line, und[0])
		for _, u := range und[1:] {
			msg += fmt.Sprintf("; and `%s`", u)
		}
		return nil, errors.New(msg)
	}
	if err := c.Validate(); err != nil {
		if line, ok := valueLine(scanKeys(data), err.Error()); ok {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// prefixes reads addresses and CIDR prefixes for the key named.
func prefixes(key string, list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, a := range list {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			ip, err2 := netip.ParseAddr(a)
			if err2 != nil {
				return nil, fmt.Errorf("%s: %q is not an address or a CIDR prefix such as 127.0.0.1/32", key, a)
			}
			p = netip.PrefixFrom(ip, ip.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// wideOpen reports an allowlist that admits more than loopback while
// FastAGI listens beyond it.
func (c *Config) wideOpen() bool {
	host, _, _ := net.SplitHostPort(c.AGI.Listen)
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsLoopback() || host == "localhost" {
		return false
	}
	for _, p := range c.allow {
		if !p.Addr().IsLoopback() || p.Bits() < 8 {
			return true
		}
	}
	return false
}

// Validate checks every key and fills what is derived from them.
func (c *Config) Validate() error {
	if c.Log.Format != "text" && c.Log.Format != "json" {
		return fmt.Errorf("[log] format = %q: want \"text\" or \"json\"", c.Log.Format)
	}
	if _, _, err := net.SplitHostPort(c.AGI.Listen); err != nil {
		return fmt.Errorf("[agi] listen = %q: want host:port, e.g. 127.0.0.1:4573", c.AGI.Listen)
	}
	var err error
	if c.proxies, err = prefixes("[web] trusted_proxies", c.Web.TrustedProxies); err != nil {
		return err
	}
	if c.AGI.MaxSessions < 1 {
		return fmt.Errorf("[agi] max_sessions = %d: want at least 1; it caps the FastAGI sessions served at once", c.AGI.MaxSessions)
	}
	if c.AGI.LookupTimeout.Duration <= 0 || c.AGI.LookupTimeout.Duration > 5*time.Second {
		return fmt.Errorf("[agi] lookup_timeout = %v: want more than 0 and at most 5s; a call waits this long for a name", c.AGI.LookupTimeout)
	}
	u, err := url.Parse(c.Odoo.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("[odoo] url = %q: want http(s)://host[:port], e.g. http://127.0.0.1:8069", odoo.RedactURL(c.Odoo.URL))
	}
	switch c.Odoo.API {
	case odoo.Auto, odoo.XMLRPC:
	case odoo.JSON2:
		if c.Odoo.APIKey == "" {
			return fmt.Errorf("[odoo] api = \"json2\" needs [odoo] api_key: create one in Odoo for %q (Preferences > Account Security > New API Key)", c.Odoo.User)
		}
	default:
		return fmt.Errorf("[odoo] api = %q: want \"auto\", \"xmlrpc\" or \"json2\"", c.Odoo.API)
	}
	if c.Odoo.DB == "" || c.Odoo.User == "" {
		return fmt.Errorf("[odoo] db and user must not be empty")
	}
	if c.Odoo.RefreshInterval.Duration < time.Second {
		return fmt.Errorf("[odoo] refresh_interval = %v: want at least 1s", c.Odoo.RefreshInterval)
	}
	if c.Odoo.FullSync.Duration < time.Minute {
		return fmt.Errorf("[odoo] full_sync_interval = %v: want at least 1m", c.Odoo.FullSync)
	}
	if c.Odoo.LiveSearches < 1 || c.Odoo.LiveSearches > 64 {
		return fmt.Errorf("[odoo] live_search_concurrency = %d: want 1 to 64 Odoo searches at once", c.Odoo.LiveSearches)
	}
	if c.Odoo.IndexSize < 1 {
		return fmt.Errorf("[odoo] index_size = %d: want at least 1", c.Odoo.IndexSize)
	}
	if err := c.validatePBXs(); err != nil {
		return err
	}
	if c.AMI.Secret != "" {
		if _, _, err := net.SplitHostPort(c.AMI.Address); err != nil {
			return fmt.Errorf("[ami] address = %q: want host:port, e.g. 127.0.0.1:5038", c.AMI.Address)
		}
		if c.AMI.User == "" {
			return fmt.Errorf("[ami] user must not be empty when secret is set")
		}
	}
	if d := c.Originate.Timeout.Duration; d < 5*time.Second || d > 5*time.Minute {
		return fmt.Errorf("[originate] timeout = %v: want between 5s and 5m", c.Originate.Timeout)
	}
	if c.Originate.PerUserPerMinute < 0 {
		return fmt.Errorf("[originate] per_user_per_minute = %d: want 0 (no cap) or more", c.Originate.PerUserPerMinute)
	}
	for _, p := range c.Originate.Deny {
		if strings.Trim(p, "+0123456789*#") != "" || p == "" || strings.LastIndexByte(p, '+') > 0 {
			return fmt.Errorf("[originate] deny: %q is not a number prefix such as \"+1900\" or \"0900\"", p)
		}
	}
	if c.Web.OdooURL != "" {
		if u, err := url.Parse(c.Web.OdooURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("[web] odoo_url = %q: want http(s)://host, where users reach Odoo", odoo.RedactURL(c.Web.OdooURL))
		}
	}
	if c.Web.SessionTTL.Duration < time.Minute {
		return fmt.Errorf("[web] session_ttl = %v: want at least 1m", c.Web.SessionTTL)
	}
	if d := c.Web.Recheck.Duration; d < 10*time.Second || d > time.Hour {
		return fmt.Errorf("[web] recheck = %v: want between 10s and 1h; a session's Odoo account is checked again this often", c.Web.Recheck)
	}
	if c.API.Listen != "" {
		if _, _, err := net.SplitHostPort(c.API.Listen); err != nil {
			return fmt.Errorf("[api] listen = %q: want host:port, e.g. 127.0.0.1:48008, or \"\" for none", c.API.Listen)
		}
	}
	if c.API.PasswordHash != "" {
		if err := api.CheckHash(c.API.PasswordHash); err != nil {
			return fmt.Errorf("[api] password_hash: %w", err)
		}
		if c.API.User == "" {
			return fmt.Errorf("[api] user must not be empty")
		}
		if (c.API.TLSCert == "") != (c.API.TLSKey == "") {
			return fmt.Errorf("[api] tls_cert and tls_key go together: give both or neither")
		}
		for _, f := range []string{c.API.TLSCert, c.API.TLSKey} {
			if f == "" {
				continue
			}
			if _, err := os.Stat(f); err != nil {
				return fmt.Errorf("[api] %w", err)
			}
		}
	}
	if c.CallLog.Enabled {
		if c.CallLog.SpoolDir == "" {
			return fmt.Errorf("[calllog] spool_dir must not be empty")
		}
		if w := c.CallLog.Workers; w < 1 || w > 32 {
			return fmt.Errorf("[calllog] workers = %d: want 1 to 32 calls posted to Odoo at once; Odoo's own workers bound what helps", w)
		}
		if c.CallLog.MaxSpoolMB < 1 {
			return fmt.Errorf("[calllog] max_spool_mb = %d: want at least 1", c.CallLog.MaxSpoolMB)
		}
	}
	if a := c.CallLog.ActivityUser; a != calllog.ActivitySalesperson && a != calllog.ActivityCalledUser {
		return fmt.Errorf("[calllog] activity_user = %q: want \"salesperson\" or \"called_user\"", a)
	}
	if _, err := c.unknownPartner(); err != nil {
		return err
	}
	if d := c.Recordings.Dir; d != "" && (!filepath.IsAbs(d) || strings.ContainsAny(d, ",()$\"{} \t")) {
		return fmt.Errorf("[recordings] dir = %q: want an absolute path with no spaces, commas or brackets (the dialplan passes it to MixMonitor)", d)
	}
	if p := c.Web.PublicURL; p != "" {
		if u, err := url.Parse(p); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("[web] public_url = %q: want the page's address as users reach it, e.g. https://phone.example.com", p)
		}
	}
	if c.Recordings.Keep.Duration < 24*time.Hour {
		return fmt.Errorf("[recordings] keep = %v: want at least a day, e.g. keep = \"90d\"", c.Recordings.Keep.Duration)
	}
	if c.History.Keep.Duration < 24*time.Hour {
		return fmt.Errorf("[history] keep = %v: want at least a day, e.g. keep = \"90d\"", c.History.Keep.Duration)
	}
	if ws := c.WebRTC.AsteriskWS; ws != "" {
		u, err := url.Parse(ws)
		if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
			return fmt.Errorf("[webrtc] asterisk_ws = %q: want Asterisk's SIP WebSocket, e.g. ws://127.0.0.1:8088/ws", ws)
		}
		if !c.Web.Enabled {
			return fmt.Errorf("[webrtc] asterisk_ws is set but [web] enabled = false: the softphone lives in the phone page")
		}
	}
	if cl := c.Cluster; len(cl.Peers) > 0 {
		if !pbxName.MatchString(cl.Name) {
			return fmt.Errorf("[cluster] name = %q: give each odoo-agi its own name of letters, digits, _ . or -", cl.Name)
		}
		if len(cl.Secret) < 16 {
			return fmt.Errorf("[cluster] secret must be at least 16 characters, the same on every instance")
		}
		if c.API.Listen == "" {
			return fmt.Errorf("[cluster] peers need [api] listen: the instances claim calls over it")
		}
		for _, p := range cl.Peers {
			if u, err := url.Parse(p); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" {
				return fmt.Errorf("[cluster] peers: %q is not a control API address such as http://10.0.0.2:48008", p)
			}
		}
	}
	if c.CallerID.MaxLength < 0 {
		return fmt.Errorf("[callerid] max_length = %d: want 0 (no limit) or more", c.CallerID.MaxLength)
	}
	return c.users().Validate()
}

func (c *Config) users() dialplan.Users {
	var us dialplan.Users
	for _, u := range c.Users {
		du := dialplan.User{Login: u.Login, Exten: u.Exten, Admin: u.Admin, WebRTC: u.WebRTC, WebRTCSecret: u.WebRTCSecret, PBX: u.PBX}
		if du.PBX == "" && len(c.PBXs) == 1 {
			du.PBX = c.PBXs[0].Name
		}
		for _, ch := range u.Channels {
			ctx := ch.Context
			if ctx == "" {
				ctx = "from-internal"
			}
			du.Channels = append(du.Channels, dialplan.Channel{Name: ch.Name, Context: ctx, Originate: ch.Originate, AutoAnswer: ch.AutoAnswer})
		}
		us = append(us, du)
	}
	return us
}

// sipDomain is the host of asterisk_ws, for the softphone's SIP URIs.
func (c *Config) sipDomain() string {
	u, err := url.Parse(c.WebRTC.AsteriskWS)
	if err != nil || u.Hostname() == "" {
		return "127.0.0.1"
	}
	return u.Hostname()
}

// unknownPartner reads [calllog] unknown_callers: "skip" or a partner id.
func (c *Config) unknownPartner() (int, error) {
	if c.CallLog.UnknownCallers == "" || c.CallLog.UnknownCallers == "skip" {
		return 0, nil
	}
	id, err := strconv.Atoi(c.CallLog.UnknownCallers)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("[calllog] unknown_callers = %q: want \"skip\" or the id of the partner that collects them, e.g. \"42\"", c.CallLog.UnknownCallers)
	}
	return id, nil
}

// normalizer reads numbers by [pbx], or the first [[pbx]]: the index reads
// partners' numbers that have no country with it.
func (c *Config) normalizer() lookup.Normalizer { return c.pbxList()[0].normalizer() }

func (c *Config) settings() dialplan.Settings {
	return dialplan.Settings{
		PBXs:          c.dialplanPBXs(),
		Users:         c.users(),
		Format:        dialplan.NameFormat{Template: c.CallerID.Format, MaxLength: c.CallerID.MaxLength, ASCII: c.CallerID.ASCII},
		Geolocate:     c.CallerID.GeolocateUnknown,
		LookupTimeout: c.AGI.LookupTimeout.Duration,

		OriginateTimeout: c.Originate.Timeout.Duration,
		Deny:             c.Originate.Deny,
		PerUserPerMinute: c.Originate.PerUserPerMinute,
		RecordDir:        c.Recordings.Dir,
	}
}
