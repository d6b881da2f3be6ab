package server

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

func TestWriteJSON(t *testing.T) {
	w := httptest.NewRecorder()
	writeJSON(w, http.StatusOK, map[string]string{"content": "<b>a & b</b>"})
	if w.Code != http.StatusOK {
		t.Fatalf("status %d", w.Code)
	}
	if got, want := w.Body.String(), `{"content":"<b>a & b</b>"}`+"\n"; got != want {
		t.Errorf("body %q, want %q (text as the model wrote it)", got, want)
	}
	if got := w.Header().Get("Content-Length"); got != strconv.Itoa(w.Body.Len()) {
		t.Errorf("Content-Length %q for a %d-byte body", got, w.Body.Len())
	}
}

// A value JSON cannot carry is a server error the client can read, not a
// 200 cut off in the middle.
func TestWriteJSONUnencodable(t *testing.T) {
	w := httptest.NewRecorder()
	writeJSON(w, http.StatusOK, map[string]float64{"x": math.NaN()})
	if w.Code != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", w.Code)
	}
	var body struct {
		Error struct {
			Message, Type string
			Code          *string
		}
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q: %v", w.Body, err)
	}
	if body.Error.Type != "server_error" || body.Error.Code == nil || *body.Error.Code != "internal_error" || body.Error.Message == "" {
		t.Errorf("error %+v", body.Error)
	}
	if got := w.Header().Get("Content-Length"); got != strconv.Itoa(w.Body.Len()) {
		t.Errorf("Content-Length %q for a %d-byte body", got, w.Body.Len())
	}
}
