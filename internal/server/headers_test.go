package server

import (
	"net/http/httptest"
	"testing"
)

// Headers set from the shared array stay independent: adding a value to
// one copies it, and past the array's end setHeader falls back to Set.
func TestSetHeaderValuesAreIndependent(t *testing.T) {
	sw := &statusWriter{ResponseWriter: httptest.NewRecorder()}
	keys := []string{"A", "B", "C", "D", "E", "F", "G", "H", "I", "J"}
	for i, k := range keys {
		setHeader(sw, k, string(rune('a'+i)))
	}
	h := sw.Header()
	h.Add("A", "extra")
	for i, k := range keys {
		want := string(rune('a' + i))
		if got := h.Values(k); k != "A" && (len(got) != 1 || got[0] != want) {
			t.Errorf("%s: %q, want [%q]", k, got, want)
		}
	}
	if got := h.Values("A"); len(got) != 2 || got[0] != "a" || got[1] != "extra" {
		t.Errorf("A: %q, want [a extra]", got)
	}
}
