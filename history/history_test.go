package history_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/odoo-agi/odoo-agi/history"
)

func TestCallsSurviveAReopenAndOldOnesGo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.db")
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s, err := history.Open(path, history.Options{Keep: 48 * time.Hour, PerUser: 3, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	for i, at := range []time.Time{now.Add(-72 * time.Hour), now.Add(-3 * time.Hour), now.Add(-2 * time.Hour), now.Add(-time.Hour), now} {
		if err := s.Put("john", at, fmt.Sprint(i), []byte(fmt.Sprint("call ", i))); err != nil {
			t.Fatal(err)
		}
	}
	s.Put("ann", now, "a", []byte("ann's"))
	s.Close()

	s, err = history.Open(path, history.Options{Keep: 48 * time.Hour, PerUser: 3, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Recent("john", 10)
	if err != nil {
		t.Fatal(err)
	}
	// Opening swept: the 72 h old call by age, then the oldest past 3.
	if len(got) != 3 || string(got[0]) != "call 4" || string(got[2]) != "call 2" {
		t.Errorf("john's calls after a reopen: %q", got)
	}
	if got, _ := s.Recent("ann", 10); len(got) != 1 || string(got[0]) != "ann's" {
		t.Errorf("ann's: %q", got)
	}
	if got, _ := s.Recent("nobody", 10); len(got) != 0 {
		t.Errorf("nobody's: %q", got)
	}
	if got, _ := s.Recent("john", 2); len(got) != 2 || string(got[1]) != "call 3" {
		t.Errorf("the last two: %q", got)
	}
}

func TestASecondOpenOfTheSameFileFailsClearly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.db")
	s, err := history.Open(path, history.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := history.Open(path, history.Options{}); err == nil {
		t.Error("two stores on one file")
	}
}
