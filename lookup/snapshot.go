package lookup

import (
	"bufio"
	"encoding/gob"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// snapshotVersion changes whenever the snapshot layout does; an older
// file is ignored, never misread.
const snapshotVersion = 4

type snapshotHeader struct {
	Magic     string
	Version   int
	Country   string // numbers were normalized with this [pbx] country
	LastWrite int64
	Tags      map[int]string // tag names, for tag sets read back
	Companies map[int]string // the account's Odoo companies
	Count     int
}

type snapshotPartner struct {
	ID, CommercialID, UserID, CountryID int32
	NumberedWith, CompanyID             int32
	IsCompany                           bool
	WriteDate                           int64
	Sig                                 uint64
	Name, Display, Company              string
	TagIDs                              []int32
	Numbers                             []number
}

// saveSnapshot writes the index atomically: a temporary file, fsync, rename.
func (d *Directory) saveSnapshot() {
	if d.cfg.CacheFile == "" {
		return
	}
	if err := d.SaveSnapshot(d.cfg.CacheFile); err != nil {
		d.log.Warn("lookup: could not write the index snapshot; a restart while Odoo is down will not resolve names", "file", d.cfg.CacheFile, "err", err)
	}
}

// SaveSnapshot writes the index to path atomically.
func (d *Directory) SaveSnapshot(path string) error {
	ix := d.idx.Load() // published, so read-only: no lock is held while it is written
	d.mu.Lock()
	h := snapshotHeader{Magic: "odoo-agi index", Version: snapshotVersion, Country: d.cfg.Normalizer.Country, LastWrite: d.lastWrite, Tags: d.tags, Companies: *d.companies.Load()}
	d.mu.Unlock()
	// Counted first, then written one by one: a copy of a million records
	// would be garbage the size of the index.
	for _, p := range ix.partners {
		if p.hasNumbers() {
			h.Count++
		}
	}

	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".index-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriter(tmp)
	enc := gob.NewEncoder(w)
	if err := enc.Encode(h); err != nil {
		tmp.Close()
		return err
	}
	for _, p := range ix.partners {
		if !p.hasNumbers() {
			continue
		}
		var tagIDs []int32
		if p.tags != nil {
			tagIDs = p.tags.ids
		}
		r := snapshotPartner{p.id, p.commercialID, p.userID, p.countryID, p.numberedWith, p.companyID, p.isCompany,
			p.writeDate, p.sig, p.name, p.display, p.company, tagIDs, p.numberList()}
		if err := enc.Encode(&r); err != nil {
			tmp.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if dir, err := os.Open(filepath.Dir(path)); err == nil {
		dir.Sync()
		dir.Close()
	}
	return nil
}

// LoadSnapshot fills the index from path and returns how many partners it
// read. A missing file is not an error; a corrupt or old-format one is,
// and leaves the index untouched.
func (d *Directory) LoadSnapshot(path string) (int, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	dec := gob.NewDecoder(bufio.NewReader(f))
	var h snapshotHeader
	if err := dec.Decode(&h); err != nil || h.Magic != "odoo-agi index" {
		return 0, fmt.Errorf("not an odoo-agi index snapshot (corrupt?)")
	}
	if h.Version != snapshotVersion {
		return 0, fmt.Errorf("snapshot format %d, this version reads %d; it will be rebuilt", h.Version, snapshotVersion)
	}
	if h.Country != d.cfg.Normalizer.Country {
		return 0, fmt.Errorf("snapshot was built for country %s, [pbx] country is now %s; it will be rebuilt", h.Country, d.cfg.Normalizer.Country)
	}
	ix := newIndex(d.cfg.IndexSize, h.Country)
	for i := 0; i < h.Count; i++ {
		var r snapshotPartner
		if err := dec.Decode(&r); err != nil {
			return 0, fmt.Errorf("snapshot is truncated or corrupt at record %d of %d: %w", i+1, h.Count, err)
		}
		p := &partner{id: r.ID, commercialID: r.CommercialID, userID: r.UserID, countryID: r.CountryID, numberedWith: r.NumberedWith, companyID: r.CompanyID, isCompany: r.IsCompany,
			writeDate: r.WriteDate, sig: r.Sig, name: r.Name, display: r.Display, company: r.Company}
		if r.Display == r.Name {
			p.display = p.name
		}
		ids := make([]int, len(r.TagIDs))
		for i, id := range r.TagIDs {
			ids[i] = int(id)
		}
		p.tags = ix.tagSet(h.Tags, ids)
		ix.partners[p.id] = p
		for _, n := range r.Numbers[:min(len(r.Numbers), 2)] {
			if _, held := ix.numbers[n]; n == 0 || !held && len(ix.numbers) >= ix.limit {
				ix.truncated = ix.truncated || n != 0
				continue
			}
			p.addNumber(n)
			ix.add(n, p)
		}
	}
	d.wmu.Lock()
	defer d.wmu.Unlock()
	if d.loaded.Load() {
		return 0, nil // a sync got there first
	}
	d.idx.Store(ix)
	d.loaded.Store(true)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lastWrite = h.LastWrite
	if d.tags == nil {
		d.tags = h.Tags
	}
	if len(*d.companies.Load()) == 0 && h.Companies != nil {
		d.companies.Store(&h.Companies)
	}
	return h.Count, nil
}
