package emulator

import (
	"encoding/json"
	"net/http"
	"time"
)

// faultJSON is a Fault as the control API reads it.
type faultJSON struct {
	Model       string `json:"model"`
	Kind        string `json:"kind"`
	Times       int    `json:"times"`
	DelayMS     int64  `json:"delay_ms"`
	AfterEvents int    `json:"after_events"`
	Exception   string `json:"exception"`
	Message     string `json:"message"`
}

// serveControl is the unsigned API that lets a test in another process drive
// the emulator:
//
//	POST /_emulator/scripts  body: {"model": "...", "response": <Converse response JSON>}
//	POST /_emulator/faults   body: {"model", "kind", "times", "delay_ms", "after_events", "exception", "message"}
//	GET  /_emulator/calls    answers: JSON array of Call
//	POST /_emulator/reset
func (e *Emulator) serveControl(w http.ResponseWriter, r *http.Request) {
	switch r.Method + " " + r.URL.Path {
	case "POST " + controlPrefix + "scripts":
		// The envelope is strict; the response inside is not, so a response captured
		// from Bedrock with fields Strata does not model still loads.
		var s struct {
			Model    string          `json:"model"`
			Response json.RawMessage `json:"response"`
		}
		if !decodeControl(w, r, &s) {
			return
		}
		script := Script{Model: s.Model}
		if err := json.Unmarshal(s.Response, &script.Response); err != nil {
			writeControlError(w, http.StatusBadRequest, "bad script response: "+err.Error())
			return
		}
		e.Script(script)
	case "POST " + controlPrefix + "faults":
		var f faultJSON
		if !decodeControl(w, r, &f) {
			return
		}
		fault := Fault{Model: f.Model, Kind: f.Kind, Times: f.Times, Delay: time.Duration(f.DelayMS) * time.Millisecond,
			AfterEvents: f.AfterEvents, Exception: f.Exception, Message: f.Message}
		if err := fault.validate(); err != nil {
			writeControlError(w, http.StatusBadRequest, err.Error())
			return
		}
		e.Fault(fault)
	case "GET " + controlPrefix + "calls":
		calls := e.Calls()
		if calls == nil {
			calls = []Call{}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(calls)
		return
	case "POST " + controlPrefix + "reset":
		e.Reset()
	default:
		writeControlError(w, http.StatusNotFound, "unknown emulator control endpoint "+r.Method+" "+r.URL.Path)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func decodeControl(w http.ResponseWriter, r *http.Request, into any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields() // a misspelt field would silently do nothing
	if err := dec.Decode(into); err != nil {
		writeControlError(w, http.StatusBadRequest, "bad control request: "+err.Error())
		return false
	}
	return true
}

func writeControlError(w http.ResponseWriter, status int, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": message})
}
