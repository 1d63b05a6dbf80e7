// Command packaging builds odoo-agi's Debian package with nfpm, as a
// library: no tool to download.
//
//	cd packaging && go run . -out ../dist
//
// It builds the binary from the module one folder up, then packs it with
// the systemd unit, the config (a conffile, root:odoo-agi 640), the
// dialplan snippet and the maintainer scripts in scripts/.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the deb packager
	"github.com/goreleaser/nfpm/v2/files"
)

func main() {
	out := flag.String("out", "../dist", "folder for the .deb")
	version := flag.String("version", "", "package version (default: from git describe, else 0.0.0~dev)")
	arch := flag.String("arch", runtime.GOARCH, "Debian architecture: amd64 or arm64")
	flag.Parse()
	if err := build(*out, *version, *arch); err != nil {
		fmt.Fprintln(os.Stderr, "packaging:", err)
		os.Exit(1)
	}
}

func build(out, version, arch string) error {
	root, err := filepath.Abs("..")
	if err != nil {
		return err
	}
	if version == "" {
		version = gitVersion(root)
	}
	work, err := os.MkdirTemp("", "odoo-agi-deb")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	bin := filepath.Join(work, "odoo-agi")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version="+version, "-o", bin, "./cmd/odoo-agi")
	cmd.Dir, cmd.Stdout, cmd.Stderr = root, os.Stderr, os.Stderr
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build: %w", err)
	}
	// The unit in contrib/ is for a go install into /usr/local/bin.
	unit, err := os.ReadFile(filepath.Join(root, "contrib", "odoo-agi.service"))
	if err != nil {
		return err
	}
	unit = bytes.ReplaceAll(unit, []byte("/usr/local/bin/odoo-agi"), []byte("/usr/bin/odoo-agi"))
	unitFile := filepath.Join(work, "odoo-agi.service")
	if err := os.WriteFile(unitFile, unit, 0o644); err != nil {
		return err
	}
	mode := func(m os.FileMode, owner, group string) *files.ContentFileInfo {
		return &files.ContentFileInfo{Mode: m, Owner: owner, Group: group, MTime: time.Unix(0, 0)}
	}
	here := func(name string) string { return filepath.Join(root, name) }
	info := &nfpm.Info{
		Name:        "odoo-agi",
		Arch:        arch,
		Platform:    "linux",
		Version:     version,
		Section:     "comm",
		Priority:    "optional",
		Maintainer:  "odoo-agi developers <odoo-agi@localhost>",
		Description: "Asterisk FastAGI, click-to-dial and a phone page for Odoo\nNames callers from Odoo contacts, dials from Odoo, and logs calls in Odoo's chatter,\nwith nothing installed in Odoo.",
		Homepage:    "https://github.com/odoo-agi/odoo-agi",
		Overridables: nfpm.Overridables{
			Depends: []string{"passwd"},
			Contents: files.Contents{
				{Source: bin, Destination: "/usr/bin/odoo-agi", FileInfo: mode(0o755, "root", "root")},
				{Source: unitFile, Destination: "/lib/systemd/system/odoo-agi.service", FileInfo: mode(0o644, "root", "root")},
				{Source: here("config.toml"), Destination: "/etc/odoo-agi/config.toml", Type: files.TypeConfigNoReplace, FileInfo: mode(0o640, "root", "odoo-agi")},
				{Source: here("config.toml"), Destination: "/usr/share/odoo-agi/config.toml.example", FileInfo: mode(0o644, "root", "root")},
				{Source: here("extensions_odoo.conf"), Destination: "/usr/share/odoo-agi/extensions_odoo.conf", FileInfo: mode(0o644, "root", "root")},
				{Destination: "/etc/odoo-agi", Type: files.TypeDir, FileInfo: mode(0o750, "root", "odoo-agi")},
				{Destination: "/var/lib/odoo-agi", Type: files.TypeDir, FileInfo: mode(0o750, "odoo-agi", "odoo-agi")},
			},
			Scripts: nfpm.Scripts{
				PreInstall:  filepath.Join(root, "packaging", "scripts", "preinst"),
				PostInstall: filepath.Join(root, "packaging", "scripts", "postinst"),
				PreRemove:   filepath.Join(root, "packaging", "scripts", "prerm"),
				PostRemove:  filepath.Join(root, "packaging", "scripts", "postrm"),
			},
		},
	}
	pkgr, err := nfpm.Get("deb")
	if err != nil {
		return err
	}
	info = nfpm.WithDefaults(info)
	if err := nfpm.PrepareForPackager(info, "deb"); err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	path := filepath.Join(out, pkgr.ConventionalFileName(info))
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pkgr.Package(info, f); err != nil {
		f.Close()
		return fmt.Errorf("nfpm: %w", err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Println(path)
	return nil
}

// gitVersion turns "v1.2.3-4-gabc" into "1.2.3+4.gabc"; without a tag,
// "0.0.0~dev+<commits>.g<hash>", which sorts below any release.
func gitVersion(root string) string {
	cmd := exec.Command("git", "describe", "--tags", "--long", "--always")
	cmd.Dir = root
	b, err := cmd.Output()
	d := strings.TrimSpace(string(b))
	if err != nil || d == "" {
		return "0.0.0~dev"
	}
	if !strings.HasPrefix(d, "v") {
		count, _ := exec.Command("git", "-C", root, "rev-list", "--count", "HEAD").Output()
		return fmt.Sprintf("0.0.0~dev+%s.g%s", strings.TrimSpace(string(count)), d)
	}
	parts := strings.Split(strings.TrimPrefix(d, "v"), "-")
	if len(parts) >= 3 {
		return fmt.Sprintf("%s+%s.%s", strings.Join(parts[:len(parts)-2], "-"), parts[len(parts)-2], parts[len(parts)-1])
	}
	return parts[0]
}
