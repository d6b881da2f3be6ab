package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// pngImage is enough of a PNG for http.DetectContentType.
var pngImage = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89")

// testRecords are the names the tests resolve; none of the public
// addresses is ever dialled.
var testRecords = map[string][]string{
	"img.test":      {"127.0.0.1"},
	"private.test":  {"10.0.0.5"},
	"mixed.test":    {"93.184.215.14", "192.168.0.10"},
	"metadata.test": {"169.254.169.254"},
	"ula.test":      {"2606:4700:4700::1111", "fd00::1"},
}

// newTestFetcher never lets a test reach a real DNS server.
func newTestFetcher(opts Options) (*Fetcher, *fakeDNS) {
	dns := newFakeDNS(testRecords)
	if opts.Resolver == nil {
		opts.Resolver = dns.resolver()
	}
	return New(opts), dns
}

// noNetwork fails the test if a refused URL got as far as the HTTP layer.
type noNetwork struct{ t *testing.T }

func (n noNetwork) RoundTrip(r *http.Request) (*http.Response, error) {
	n.t.Errorf("request to %s reached the transport", r.URL)
	return nil, errors.New("no network in this test")
}

func wantFetchError(t *testing.T, err error, status int, reason string) *Error {
	t.Helper()
	var fe *Error
	if !errors.As(err, &fe) {
		t.Fatalf("error = %v, want a *fetch.Error with reason %s", err, reason)
	}
	if fe.Status != status || fe.Reason != reason {
		t.Fatalf("error = %d %s (%v), want %d %s", fe.Status, fe.Reason, fe, status, reason)
	}
	return fe
}

func portOf(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Port()
}

func servePNG(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "image/png")
	w.Write(pngImage)
}

func TestFetchRefuses(t *testing.T) {
	tests := []struct {
		url    string
		status int
		reason string
	}{
		{"file:///etc/passwd", 400, ReasonURLScheme},
		{"ftp://example.com/cat.png", 400, ReasonURLScheme},
		{"gopher://example.com/", 400, ReasonURLScheme},
		{"data:image/png;base64,iVBORw0KGgo=", 400, ReasonURLScheme},
		{"example.com/cat.png", 400, ReasonURLScheme},
		{"http://user:pass@example.com/cat.png", 400, ReasonURLUserinfo},
		{"http://example.com@127.0.0.1/", 400, ReasonURLUserinfo},
		{"http:///cat.png", 400, ReasonURLInvalid},
		{"http://example.com:99999/", 400, ReasonURLInvalid},
		{"http://[::1", 400, ReasonURLInvalid},
		{"http://127.0.0.%31/", 400, ReasonURLInvalid},
		{"http://bücher.test/", 400, ReasonURLInvalid},

		{"http://127.0.0.1", 400, ReasonBlockedAddress},
		{"http://127.0.0.1:8080/cat.png", 400, ReasonBlockedAddress},
		{"https://127.0.0.1/", 400, ReasonBlockedAddress},
		{"http://localhost", 400, ReasonBlockedAddress},
		{"http://LOCALHOST./", 400, ReasonBlockedAddress},
		{"http://img.localhost/", 400, ReasonBlockedAddress},
		{"http://[::1]", 400, ReasonBlockedAddress},
		{"http://[::]/", 400, ReasonBlockedAddress},
		{"http://10.0.0.1", 400, ReasonBlockedAddress},
		{"http://192.168.1.1", 400, ReasonBlockedAddress},
		{"http://172.16.0.1", 400, ReasonBlockedAddress},
		{"http://100.100.100.200/", 400, ReasonBlockedAddress},
		{"http://169.254.169.254/latest/meta-data", 400, ReasonBlockedAddress},
		{"http://[fd00:ec2::254]/latest/meta-data", 400, ReasonBlockedAddress},
		{"http://[fe80::1%25eth0]/", 400, ReasonBlockedAddress},
		{"http://[::ffff:127.0.0.1]", 400, ReasonBlockedAddress},
		{"http://[::ffff:a9fe:a9fe]/", 400, ReasonBlockedAddress},
		{"http://[64:ff9b::7f00:1]/", 400, ReasonBlockedAddress},
		{"http://[2002:a9fe:a9fe::]/", 400, ReasonBlockedAddress},
		{"http://0.0.0.0", 400, ReasonBlockedAddress},
		{"http://2130706433/", 400, ReasonBlockedAddress},
		{"http://0x7f000001/", 400, ReasonBlockedAddress},
		{"http://0x7f.1/", 400, ReasonBlockedAddress},
		{"http://017700000001/", 400, ReasonBlockedAddress},
		{"http://127.1/", 400, ReasonBlockedAddress},
		{"https://private.test/cat.png", 400, ReasonBlockedAddress},
		{"http://mixed.test/cat.png", 400, ReasonBlockedAddress},
		{"http://metadata.test/latest/meta-data", 400, ReasonBlockedAddress},
		{"http://ula.test/", 400, ReasonBlockedAddress},

		{"http://nxdomain.test/cat.png", 400, ReasonDNS},
	}
	f, _ := newTestFetcher(Options{Transport: noNetwork{t}})
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			_, _, err := f.Fetch(context.Background(), tt.url)
			fe := wantFetchError(t, err, tt.status, tt.reason)
			for _, internal := range []string{"10.0.0.5", "192.168.0.10", "169.254.169.254"} {
				if tt.reason == ReasonBlockedAddress && strings.Contains(fe.Msg, internal) && !strings.Contains(tt.url, internal) {
					t.Errorf("client message %q names the internal address %s", fe.Msg, internal)
				}
			}
		})
	}
}

func TestBlockedErrorLogsTheAddress(t *testing.T) {
	f, _ := newTestFetcher(Options{Transport: noNetwork{t}})
	_, _, err := f.Fetch(context.Background(), "http://mixed.test/")
	fe := wantFetchError(t, err, 400, ReasonBlockedAddress)
	if !strings.Contains(fe.Msg, `"mixed.test"`) {
		t.Errorf("client message %q does not name the host", fe.Msg)
	}
	if !strings.Contains(err.Error(), "192.168.0.10") {
		t.Errorf("log text %q does not name the refused address", err.Error())
	}
}

func TestFetchAllowedHosts(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(servePNG))
	defer srv.Close()
	port := portOf(t, srv)

	tests := []struct {
		name    string
		url     string
		allowed []string
		disable bool
		reason  string // "" = ok
	}{
		{"allowed without port", srv.URL + "/cat.png", []string{"127.0.0.1"}, false, ""},
		{"allowed with its port", srv.URL + "/cat.png", []string{"127.0.0.1:" + port}, false, ""},
		{"not allowed", srv.URL + "/cat.png", nil, false, ReasonBlockedAddress},
		{"allowed on another port", srv.URL + "/cat.png", []string{"127.0.0.1:1"}, false, ReasonBlockedAddress},
		{"other host allowed", srv.URL + "/cat.png", []string{"127.0.0.2", "img.test"}, false, ReasonBlockedAddress},
		{"allowed name", "http://img.test:" + port + "/cat.png", []string{"img.test"}, false, ""},
		{"name resolving to an allowed address", "http://img.test:" + port + "/cat.png", []string{"127.0.0.1"}, false, ReasonBlockedAddress},
		{"validation disabled", srv.URL + "/cat.png", nil, true, ""},
		{"validation disabled, legacy spelling", "http://2130706433:" + port + "/cat.png", nil, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _ := newTestFetcher(Options{AllowedHosts: tt.allowed, DisableValidation: tt.disable})
			mt, data, err := f.Fetch(context.Background(), tt.url)
			if tt.reason != "" {
				wantFetchError(t, err, 400, tt.reason)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if mt != "image/png" || string(data) != string(pngImage) {
				t.Fatalf("got %s, %d bytes; want image/png, %d bytes", mt, len(data), len(pngImage))
			}
		})
	}
}

func TestFetchAllowedIPv6Host(t *testing.T) {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skip("no IPv6 loopback:", err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(servePNG))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	defer srv.Close()

	for _, allowed := range [][]string{{"[::1]"}, {"::1"}, {"[::1]:" + portOf(t, srv)}} {
		f, _ := newTestFetcher(Options{AllowedHosts: allowed})
		if _, _, err := f.Fetch(context.Background(), srv.URL+"/cat.png"); err != nil {
			t.Errorf("allowed %q: %v", allowed, err)
		}
	}
	f, _ := newTestFetcher(Options{AllowedHosts: []string{"[::1]:1"}})
	_, _, err = f.Fetch(context.Background(), srv.URL+"/cat.png")
	wantFetchError(t, err, 400, ReasonBlockedAddress)
}

// TestFetchDialsTheCheckedAddress shows there is no second lookup: the name
// exists only in the test's resolver, is looked up once, and the download
// still reaches the server, so the dialer used the checked address.
func TestFetchDialsTheCheckedAddress(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(servePNG))
	defer srv.Close()
	f, dns := newTestFetcher(Options{AllowedHosts: []string{"img.test"}})
	if _, _, err := f.Fetch(context.Background(), "http://img.test:"+portOf(t, srv)+"/cat.png"); err != nil {
		t.Fatal(err)
	}
	if n := dns.count("img.test", "A"); n != 1 {
		t.Errorf("img.test was looked up %d times, want 1", n)
	}
	if _, err := f.dialChecked(context.Background(), "tcp", "127.0.0.1:"+portOf(t, srv)); err == nil {
		t.Error("dialChecked connected without a checked address")
	}
}

// Go reads the proxy environment once per process, so setting it in a test
// proves nothing; the transport itself must have no Proxy, because a proxy
// would connect to addresses this package never checked. No Jar either.
func TestDefaultTransportHasNoProxyNorCookies(t *testing.T) {
	f := New(Options{})
	tr, ok := f.client.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("transport is %T", f.client.Transport)
	}
	if tr.Proxy != nil {
		t.Error("the transport uses a proxy")
	}
	if f.client.Jar != nil {
		t.Error("the client keeps cookies")
	}
}

func TestFetchRedirects(t *testing.T) {
	var bHits atomic.Int32
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bHits.Add(1)
		servePNG(w, r)
	}))
	defer b.Close()

	var loopHits atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/cat.png", servePNG)
	mux.HandleFunc("/dir/relative", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "../cat.png")
		w.WriteHeader(http.StatusFound)
	})
	mux.HandleFunc("/to-b", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, b.URL+"/cat.png", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/to-metadata", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/iam/security-credentials/", http.StatusFound)
	})
	mux.HandleFunc("/to-private-name", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://private.test/cat.png", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/to-file", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "file:///etc/passwd", http.StatusSeeOther)
	})
	mux.HandleFunc("/no-location", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusFound)
	})
	mux.HandleFunc("/loop/", func(w http.ResponseWriter, r *http.Request) {
		loopHits.Add(1)
		n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/loop/"))
		http.Redirect(w, r, fmt.Sprintf("/loop/%d", n+1), http.StatusPermanentRedirect)
	})
	a := httptest.NewServer(mux)
	defer a.Close()
	onlyA := []string{"127.0.0.1:" + portOf(t, a)}

	tests := []struct {
		name         string
		path         string
		allowed      []string
		maxRedirects int
		status       int
		reason       string // "" = ok
	}{
		{"relative Location", "/dir/relative", onlyA, 0, 200, ""},
		{"to a port that is not allowed", "/to-b", onlyA, 0, 400, ReasonBlockedAddress},
		{"to a port that is allowed", "/to-b", []string{"127.0.0.1"}, 0, 200, ""},
		{"to the metadata service", "/to-metadata", []string{"127.0.0.1"}, 0, 400, ReasonBlockedAddress},
		{"to a name with a private address", "/to-private-name", onlyA, 0, 400, ReasonBlockedAddress},
		{"to file:", "/to-file", onlyA, 0, 400, ReasonURLScheme},
		{"3xx without Location", "/no-location", onlyA, 0, 400, ReasonUpstreamStatus},
		{"longer than MaxRedirects", "/loop/0", onlyA, 3, 400, ReasonTooManyRedirects},
		{"longer than the default", "/loop/0", onlyA, 0, 400, ReasonTooManyRedirects},
		{"redirects turned off", "/dir/relative", onlyA, -1, 400, ReasonTooManyRedirects},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bHits.Store(0)
			loopHits.Store(0)
			f, _ := newTestFetcher(Options{AllowedHosts: tt.allowed, MaxRedirects: tt.maxRedirects})
			mt, _, err := f.Fetch(context.Background(), a.URL+tt.path)
			if tt.reason == "" {
				if err != nil || mt != "image/png" {
					t.Fatalf("got %q, %v; want image/png", mt, err)
				}
				return
			}
			wantFetchError(t, err, tt.status, tt.reason)
			if tt.reason == ReasonBlockedAddress && bHits.Load() != 0 {
				t.Error("the refused redirect target was contacted")
			}
		})
	}

	// The first request and then MaxRedirects redirects, no more.
	loopHits.Store(0)
	f, _ := newTestFetcher(Options{AllowedHosts: onlyA, MaxRedirects: 3})
	f.Fetch(context.Background(), a.URL+"/loop/0")
	if n := loopHits.Load(); n != 4 {
		t.Errorf("redirect loop was requested %d times, want 4", n)
	}
}

func TestFetchResponses(t *testing.T) {
	const limit = 1024
	big := make([]byte, 2*limit)
	copy(big, pngImage)
	stall := make(chan struct{})
	defer close(stall)

	mux := http.NewServeMux()
	mux.HandleFunc("/exact", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(big[:limit])
	})
	mux.HandleFunc("/big-with-length", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Header().Set("Content-Length", strconv.Itoa(len(big)))
		w.Write(big)
	})
	mux.HandleFunc("/big-chunked", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(big[:100])
		w.(http.Flusher).Flush() // headers out without a Content-Length
		w.Write(big[100:])
	})
	mux.HandleFunc("/missing", http.NotFound)
	mux.HandleFunc("/broken", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusInternalServerError)
	})
	mux.HandleFunc("/no-type", func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = nil // stops the server sniffing one for us
		w.Write(pngImage)
	})
	mux.HandleFunc("/octet-stream", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(pngImage)
	})
	mux.HandleFunc("/typed", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "Image/WebP; q=1")
		w.Write(pngImage)
	})
	mux.HandleFunc("/stall-headers", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stall:
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/stall-body", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(pngImage)
		w.(http.Flusher).Flush()
		select {
		case <-stall:
		case <-r.Context().Done():
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	tests := []struct {
		path      string
		status    int
		reason    string // "" = ok
		mediaType string
	}{
		{"/exact", 200, "", "image/png"},
		{"/big-with-length", 400, ReasonTooLarge, ""},
		{"/big-chunked", 400, ReasonTooLarge, ""},
		{"/missing", 400, ReasonUpstreamStatus, ""},
		{"/broken", 400, ReasonUpstreamStatus, ""},
		{"/no-type", 200, "", "image/png"},
		{"/octet-stream", 200, "", "image/png"},
		{"/typed", 200, "", "image/webp"},
		{"/stall-headers", 504, ReasonTimeout, ""},
		{"/stall-body", 504, ReasonTimeout, ""},
	}
	f, _ := newTestFetcher(Options{AllowedHosts: []string{"127.0.0.1"}, MaxBytes: limit, Timeout: 200 * time.Millisecond})
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			mt, _, err := f.Fetch(context.Background(), srv.URL+tt.path)
			if tt.reason == "" {
				if err != nil || mt != tt.mediaType {
					t.Fatalf("got %q, %v; want %s", mt, err, tt.mediaType)
				}
				return
			}
			fe := wantFetchError(t, err, tt.status, tt.reason)
			if tt.path == "/missing" && fe.Msg != "image URL answered 404" {
				t.Errorf("message %q", fe.Msg)
			}
		})
	}
}

// endlessBody counts what is read from a body that never ends.
type endlessBody struct{ read atomic.Int64 }

func (b *endlessBody) Read(p []byte) (int, error) {
	b.read.Add(int64(len(p)))
	return len(p), nil
}
func (b *endlessBody) Close() error { return nil }

type bodyTransport struct {
	body          *endlessBody
	contentLength int64
}

func (rt bodyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"image/png"}},
		Body: rt.body, ContentLength: rt.contentLength, Request: r}, nil
}

func TestFetchReadsAtMostOneByteOverTheLimit(t *testing.T) {
	const limit = 4096
	for _, contentLength := range []int64{-1, 1 << 40} {
		body := &endlessBody{}
		f, _ := newTestFetcher(Options{AllowedHosts: []string{"img.test"}, MaxBytes: limit,
			Transport: bodyTransport{body: body, contentLength: contentLength}})
		_, _, err := f.Fetch(context.Background(), "http://img.test/cat.png")
		wantFetchError(t, err, 400, ReasonTooLarge)
		max := int64(limit + 1)
		if contentLength > 0 {
			max = 0 // the declared length alone is enough to refuse
		}
		if n := body.read.Load(); n > max {
			t.Errorf("Content-Length %d: read %d bytes, want at most %d", contentLength, n, max)
		}
	}
}

func TestFetchRequestHeadersAndCookies(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/first", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "secret", Path: "/"})
		http.Redirect(w, r, "/second", http.StatusFound)
	})
	mux.HandleFunc("/second", func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Header.Get("User-Agent") != "strata-image-fetch":
			http.Error(w, "user agent "+r.UserAgent(), http.StatusTeapot)
		case r.Header.Get("Cookie") != "":
			http.Error(w, "cookie sent", http.StatusConflict)
		case r.Header.Get("Referer") != "":
			http.Error(w, "referer sent", http.StatusPreconditionFailed)
		default:
			servePNG(w, r)
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	f, _ := newTestFetcher(Options{AllowedHosts: []string{"127.0.0.1"}})
	if _, _, err := f.Fetch(context.Background(), srv.URL+"/first"); err != nil {
		t.Fatal(err)
	}
}

func TestFetchCallerCancels(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer srv.Close()
	f, _ := newTestFetcher(Options{AllowedHosts: []string{"127.0.0.1"}})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, _, err := f.Fetch(ctx, srv.URL+"/cat.png")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
	var fe *Error
	if errors.As(err, &fe) {
		t.Errorf("a caller's cancellation became a fetch error: %v", fe)
	}
}

func TestFetchConcurrentAndPooled(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(servePNG))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	f, _ := newTestFetcher(Options{AllowedHosts: []string{"127.0.0.1"}})

	for range 3 {
		if _, _, err := f.Fetch(context.Background(), srv.URL+"/cat.png"); err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("three sequential downloads opened %d connections, want 1", n)
	}

	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			if _, _, err := f.Fetch(context.Background(), srv.URL+"/cat.png"); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestFetchHTTPS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(servePNG))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	srv.StartTLS()
	defer srv.Close()
	// The test server's certificate is for 127.0.0.1 and example.com; this
	// checks that TLS verifies the URL's host even though the dialer is ours.
	tr := srv.Client().Transport.(*http.Transport).Clone()
	f, _ := newTestFetcher(Options{AllowedHosts: []string{"127.0.0.1", "img.test"}, Transport: tr})
	tr.DialContext = f.dialChecked // the production dialer, with the test CA trusted
	if _, _, err := f.Fetch(context.Background(), srv.URL+"/cat.png"); err != nil {
		t.Fatal(err)
	}
	_, _, err := f.Fetch(context.Background(), "https://img.test:"+portOf(t, srv)+"/cat.png")
	wantFetchError(t, err, 400, ReasonUnreachable)
}
