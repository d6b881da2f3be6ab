package server

import "net/http"

// headerValues hands out the one-value slices of a request's answer
// headers from one array, instead of one allocation per header as
// http.Header.Set makes. A slice's capacity is its length, so whatever
// appends to one later gets a copy.
type headerValues struct {
	vals [8]string
	n    int
}

// setHeader sets a header of w's answer. key must be in canonical form.
func setHeader(w http.ResponseWriter, key, value string) {
	sw, ok := w.(*statusWriter)
	if !ok || sw.values.n == len(sw.values.vals) {
		w.Header().Set(key, value)
		return
	}
	hv := &sw.values
	hv.vals[hv.n] = value
	w.Header()[key] = hv.vals[hv.n : hv.n+1 : hv.n+1]
	hv.n++
}

// Header values every JSON answer carries, shared: net/http only reads them.
var jsonContentType = []string{"application/json"}
