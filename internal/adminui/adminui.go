// Package adminui is the admin page: plain HTML, CSS and JavaScript
// modules embedded in the binary and served under /ui/. It is a client of
// the admin JSON routes only: it keeps no state on the server and checks
// no key; the routes it calls do.
package adminui

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var files embed.FS

// Handler serves the page's files under prefix (e.g. "/ui/"). The page
// loads nothing from elsewhere, and its policy says so to the browser.
func Handler(prefix string) http.Handler {
	static, err := fs.Sub(files, "static")
	if err != nil {
		panic(err) // the directory is embedded above: it exists
	}
	fileServer := http.StripPrefix(prefix, http.FileServerFS(static))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		fileServer.ServeHTTP(w, r)
	})
}
