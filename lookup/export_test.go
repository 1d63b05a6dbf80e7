package lookup

// HoldLocks takes every lock the directory's writers take, as a sync,
// a reconcile or a snapshot at its slowest would, and returns what
// releases them.
func (d *Directory) HoldLocks() func() {
	d.wmu.Lock()
	d.mu.Lock()
	return func() { d.mu.Unlock(); d.wmu.Unlock() }
}

// LiveSearches reports the live searches made and those refused at the cap.
func (d *Directory) LiveSearches() (made, refused int64) { return d.searches.Load(), d.gaveUp.Load() }

// LiveSearchesRunning reports the live searches holding a slot.
func (d *Directory) LiveSearchesRunning() int { return len(d.slots) }
