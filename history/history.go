// Package history keeps each user's calls on disk, in bbolt, so that the
// phone page's Recent calls survive a restart: one bucket a user, keyed by
// the time and the call, bounded by age and by count, swept at start and
// every hour.
package history

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Store is the history database. Its methods are safe for concurrent use.
type Store struct {
	db     *bolt.DB
	keep   time.Duration
	max    int
	logger *slog.Logger
	now    func() time.Time
	stop   chan struct{}
}

// Options tune a Store.
type Options struct {
	Keep    time.Duration // calls older than this go; default 90 days
	PerUser int           // calls kept per user at most; default 10,000
	Logger  *slog.Logger
	Now     func() time.Time // default time.Now
}

// Open opens or creates the database at path. Another odoo-agi holding it
// makes Open fail after 2 s rather than wait.
func Open(path string, o Options) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("history: open %s: %w", path, err)
	}
	s := &Store{db: db, keep: o.Keep, max: o.PerUser, logger: o.Logger, now: o.Now, stop: make(chan struct{})}
	if s.keep <= 0 {
		s.keep = 90 * 24 * time.Hour
	}
	if s.max <= 0 {
		s.max = 10000
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if err := s.Sweep(); err != nil {
		db.Close()
		return nil, err
	}
	go s.sweepHourly()
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	close(s.stop)
	return s.db.Close()
}

func (s *Store) sweepHourly() {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if err := s.Sweep(); err != nil {
				s.logger.Warn("history: sweeping old calls failed", "err", err)
			}
		}
	}
}

// key orders a user's calls by time: 8 bytes of Unix nanoseconds, then
// the call's id, so two calls in one nanosecond stay apart.
func key(at time.Time, id string) []byte {
	k := make([]byte, 8, 8+len(id))
	binary.BigEndian.PutUint64(k, uint64(at.UnixNano()))
	return append(k, id...)
}

// Put stores one call of login at its time; the same call and time again
// replace it. The hourly sweep trims a user past PerUser.
func (s *Store) Put(login string, at time.Time, id string, value []byte) error {
	if login == "" {
		return errors.New("history: a call without a user")
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(login))
		if err != nil {
			return err
		}
		return b.Put(key(at, id), value)
	})
}

// Recent returns login's last n calls, newest first.
func (s *Store) Recent(login string, n int) ([][]byte, error) {
	var out [][]byte
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(login))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Last(); k != nil && len(out) < n; k, v = c.Prev() {
			out = append(out, bytes.Clone(v))
		}
		return nil
	})
	return out, err
}

// Sweep deletes, in every user's bucket, the calls older than Keep and
// the oldest past PerUser.
func (s *Store) Sweep() error {
	cutoff := key(s.now().Add(-s.keep), "")
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			n := b.Stats().KeyN
			c := b.Cursor()
			for k, _ := c.First(); k != nil && (bytes.Compare(k, cutoff) < 0 || n > s.max); k, _ = c.First() {
				if err := c.Delete(); err != nil {
					return err
				}
				n--
			}
			return nil
		})
	})
}

// Find returns login's call with this id, newest first if there are two.
func (s *Store) Find(login, id string) ([]byte, bool) {
	var out []byte
	s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(login))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			if len(k) > 8 && string(k[8:]) == id {
				out = bytes.Clone(v)
				return nil
			}
		}
		return nil
	})
	return out, out != nil
}
