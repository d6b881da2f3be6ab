package spend

import (
	"strings"
	"testing"
	"time"
)

func TestNewIDSortsByTime(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 7, 0, 0, 0, time.UTC)
	seen := map[string]bool{}
	prev := ""
	for i := range 2000 {
		id := NewID(t0.Add(time.Duration(i/4) * time.Millisecond))
		if len(id) != 26 || strings.Trim(id, idAlphabet) != "" {
			t.Fatalf("NewID = %q: want 26 characters of %s", id, idAlphabet)
		}
		if seen[id] {
			t.Fatalf("NewID repeated %q", id)
		}
		seen[id] = true
		// Ids of a later millisecond sort after every id of an earlier one.
		if i%4 == 0 && id <= prev {
			t.Fatalf("NewID at +%dms = %q sorts before %q, an id of an earlier millisecond", i/4, id, prev)
		}
		prev = max(prev, id)
	}
	if got, want := NewID(time.UnixMilli(0))[:10], "0000000000"; got != want {
		t.Errorf("time part of the epoch = %q, want %q", got, want)
	}
	if got, want := NewID(time.UnixMilli(1<<5 + 3))[:10], "0000000013"; got != want {
		t.Errorf("time part of 35ms = %q, want %q", got, want)
	}
}
