package daemon

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/odoo-agi/odoo-agi/ami"
	"github.com/odoo-agi/odoo-agi/dialplan"
	"github.com/odoo-agi/odoo-agi/lookup"
)

// PBXConfig is [pbx], the one PBX, or one [[pbx]] entry of several. The
// number rules and company may be in either; the name, FastAGI peers and
// manager are an entry's, since [agi] allow and [ami] serve the one PBX.
type PBXConfig struct {
	Name              string   `toml:"name"`
	Country           string   `toml:"country"`
	InternalMaxDigits int      `toml:"internal_max_digits"`
	DialFormat        string   `toml:"dial_format"`
	OutPrefix         string   `toml:"out_prefix"`
	Company           int      `toml:"company"`   // the res.company id of its lines; 0: none
	AGIAllow          []string `toml:"agi_allow"` // where its FastAGI sessions come from
	AMIAddress        string   `toml:"ami_address"`
	AMIUser           string   `toml:"ami_user"`
	AMISecret         string   `toml:"ami_secret"`

	allow []netip.Prefix // AGIAllow, read
}

func (p PBXConfig) allowed() []netip.Prefix { return p.allow }

func defaultPBX() PBXConfig {
	return PBXConfig{Country: "BE", InternalMaxDigits: 6, DialFormat: "national", AMIAddress: "127.0.0.1:5038", AMIUser: "odoo"}
}

func (p PBXConfig) normalizer() lookup.Normalizer {
	return lookup.Normalizer{Country: p.Country, InternalMaxDigits: p.InternalMaxDigits, DialFormat: p.DialFormat, OutPrefix: p.OutPrefix}
}

// decodePBX reads the pbx key: a [pbx] table or [[pbx]] entries, each
// from the defaults.
func (c *Config) decodePBX(md toml.MetaData) error {
	switch md.Type("pbx") {
	case "":
		return nil
	case "Hash":
		return md.PrimitiveDecode(c.PBXRaw, &c.PBX)
	}
	var entries []toml.Primitive
	if err := md.PrimitiveDecode(c.PBXRaw, &entries); err != nil {
		return err
	}
	for _, e := range entries {
		p := defaultPBX()
		if err := md.PrimitiveDecode(e, &p); err != nil {
			return err
		}
		c.PBXs = append(c.PBXs, p)
	}
	if md.IsDefined("ami") {
		return fmt.Errorf("[ami] and [[pbx]] both give a manager: move [ami]'s keys into the [[pbx]] entries as ami_address, ami_user and ami_secret")
	}
	if md.IsDefined("agi", "allow") {
		return fmt.Errorf("[agi] allow and [[pbx]] both list FastAGI peers: give each [[pbx]] its agi_allow instead")
	}
	return nil
}

// pbxList is every PBX: the [[pbx]] entries, or [pbx] with [agi] allow
// and [ami].
func (c *Config) pbxList() []PBXConfig {
	if len(c.PBXs) > 0 {
		return c.PBXs
	}
	p := c.PBX
	p.AGIAllow, p.AMIAddress, p.AMIUser, p.AMISecret = c.AGI.Allow, c.AMI.Address, c.AMI.User, c.AMI.Secret
	return []PBXConfig{p}
}

var pbxName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,32}$`)

// validatePBXs checks [pbx] or each [[pbx]], and fills c.allow with every
// PBX's FastAGI peers.
func (c *Config) validatePBXs() error {
	several := len(c.PBXs) > 1
	c.allow = nil
	for i := range c.pbxList() {
		where := "[pbx]"
		p := &c.PBX
		if len(c.PBXs) > 0 {
			p = &c.PBXs[i]
			where = fmt.Sprintf("pbx[%d]", i)
			if p.Name != "" {
				where += " (" + p.Name + ")"
			}
		}
		if !lookup.ValidCountry(strings.ToUpper(p.Country)) {
			return fmt.Errorf("%s country = %q: want an ISO 3166-1 alpha-2 code such as BE, FR or US", where, p.Country)
		}
		p.Country = strings.ToUpper(p.Country)
		if p.DialFormat != "national" && p.DialFormat != "e164" {
			return fmt.Errorf("%s dial_format = %q: want \"national\" or \"e164\"", where, p.DialFormat)
		}
		if strings.Trim(p.OutPrefix, "0123456789*#") != "" {
			return fmt.Errorf("%s out_prefix = %q: want digits, * or #", where, p.OutPrefix)
		}
		if p.Company < 0 {
			return fmt.Errorf("%s company = %d: want the id of an Odoo company (Settings > Companies), or 0 for none", where, p.Company)
		}
		if p.Name != "" && !pbxName.MatchString(p.Name) || several && p.Name == "" {
			return fmt.Errorf("%s name = %q: each of several PBXs needs a name of letters, digits, _ . or - (at most 32); calls and cards carry it", where, p.Name)
		}
		if len(c.PBXs) == 0 {
			if p.AGIAllow != nil || p.AMIAddress != defaultPBX().AMIAddress || p.AMIUser != defaultPBX().AMIUser || p.AMISecret != "" {
				return fmt.Errorf("[pbx] agi_allow and ami_* belong to [[pbx]] entries: with one PBX, use [agi] allow and [ami]")
			}
			continue
		}
		if several && len(p.AGIAllow) == 0 {
			return fmt.Errorf("%s agi_allow is empty: list the addresses its FastAGI sessions come from, so that each call is matched to its PBX", where)
		}
		allow, err := prefixes(where+" agi_allow", cmpSlice(p.AGIAllow, c.AGI.Allow))
		if err != nil {
			return err
		}
		for j, q := range c.PBXs[:i] {
			for _, a := range allow {
				for _, b := range q.allowed() {
					if a.Overlaps(b) {
						return fmt.Errorf("%s agi_allow %s overlaps pbx[%d] (%s)'s %s: a FastAGI peer must be one PBX's", where, a, j, q.Name, b)
					}
				}
			}
			if q.Name == p.Name {
				return fmt.Errorf("%s: the name %q is pbx[%d]'s too", where, p.Name, j)
			}
			if p.AMISecret != "" && q.AMISecret != "" && q.AMIAddress == p.AMIAddress {
				return fmt.Errorf("%s ami_address %s is pbx[%d] (%s)'s too: each PBX has its own manager", where, p.AMIAddress, j, q.Name)
			}
		}
		p.allow = allow
		if p.AMISecret != "" {
			if _, _, err := net.SplitHostPort(p.AMIAddress); err != nil {
				return fmt.Errorf("%s ami_address = %q: want host:port, e.g. 10.0.1.5:5038", where, p.AMIAddress)
			}
			if p.AMIUser == "" {
				return fmt.Errorf("%s ami_user must not be empty when ami_secret is set", where)
			}
		}
	}
	if len(c.PBXs) == 0 {
		var err error
		c.allow, err = prefixes("[agi] allow", c.AGI.Allow)
		return err
	}
	for _, p := range c.PBXs {
		c.allow = append(c.allow, p.allowed()...)
	}
	names := make([]string, len(c.PBXs))
	for i, p := range c.PBXs {
		names[i] = p.Name
	}
	for i, u := range c.Users {
		switch {
		case u.PBX == "" && several:
			return fmt.Errorf("users[%d] (%s): pbx is empty: name the PBX its phones are on, one of %s", i, u.Login, strings.Join(names, ", "))
		case u.PBX != "" && !slices.Contains(names, u.PBX):
			return fmt.Errorf("users[%d] (%s): pbx = %q is no [[pbx]] name; want one of %s", i, u.Login, u.PBX, strings.Join(names, ", "))
		}
	}
	return nil
}

func cmpSlice(a, b []string) []string {
	if len(a) > 0 {
		return a
	}
	return b
}

// dialplanPBXs are the PBXs as the call flows match sessions to them.
func (c *Config) dialplanPBXs() []dialplan.PBX {
	var out []dialplan.PBX
	for _, p := range c.pbxList() {
		out = append(out, dialplan.PBX{Name: p.Name, Allow: p.allowed(), Normalizer: p.normalizer(), Company: p.Company})
	}
	if len(c.PBXs) == 0 {
		out[0].Allow = c.allow
	}
	return out
}

// Manager is one PBX's manager client.
type Manager struct {
	PBX    string
	Client *ami.Client
}

// ManagerClients are the manager clients of the PBXs that have a secret,
// in config order; none turns click-to-dial and the cards off.
func (c *Config) ManagerClients(log *slog.Logger) []Manager {
	var out []Manager
	for _, p := range c.pbxList() {
		if p.AMISecret == "" {
			continue
		}
		l := log
		if len(c.PBXs) > 1 {
			l = log.With("pbx", p.Name)
		}
		out = append(out, Manager{p.Name, &ami.Client{Addr: p.AMIAddress, Username: p.AMIUser, Secret: p.AMISecret, Logger: l, Trace: true}})
	}
	return out
}

// companies are the Odoo companies that the PBXs name, once each.
func (c *Config) companies() []int {
	var out []int
	for _, p := range c.pbxList() {
		if p.Company != 0 && !slices.Contains(out, p.Company) {
			out = append(out, p.Company)
		}
	}
	return out
}
