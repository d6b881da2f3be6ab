package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// Options configures a Fetcher. The zero value is the safe default.
type Options struct {
	// MaxBytes is the largest image accepted; default 20 MB.
	MaxBytes int64
	// Timeout bounds the whole download, redirects included; default 15s.
	Timeout time.Duration
	// MaxRedirects is how many redirects are followed; default 5, negative for none.
	MaxRedirects int
	// AllowedHosts is LiteLLM's litellm_settings.user_url_allowed_hosts:
	// hosts as written in the URL ("127.0.0.1", "img.corp.internal",
	// "10.0.0.12:8080", "[::1]"). An entry without a port allows any port.
	// An allowed host skips the address checks: the operator vouched for it.
	// An entry that cannot be read allows nothing.
	AllowedHosts []string
	// DisableValidation is LiteLLM's litellm_settings.user_url_validation:
	// false. It turns off the address checks only; the scheme and userinfo
	// rules and the size and time limits still apply.
	DisableValidation bool
	// Resolver resolves hosts; nil means net.DefaultResolver.
	Resolver *net.Resolver
	// Transport replaces the HTTP transport, for tests of the HTTP layer
	// only: a replacement decides for itself where it connects. The default
	// dials exactly the addresses that were checked.
	Transport http.RoundTripper
}

const (
	defaultMaxBytes     = 20 << 20
	defaultTimeout      = 15 * time.Second
	defaultMaxRedirects = 5
	userAgent           = "strata-image-fetch"
)

// errTimedOut is the cause of the Fetcher's own deadline, which tells it
// apart from a deadline or cancellation that came with the caller's context.
var errTimedOut = errors.New("image download timed out")

// Fetcher downloads images by URL. It is safe for concurrent use and keeps
// one connection pool for all downloads.
type Fetcher struct {
	maxBytes     int64
	timeout      time.Duration
	maxRedirects int
	allowed      []hostPattern
	checkAddrs   bool
	resolver     *net.Resolver
	dialer       net.Dialer
	client       *http.Client
}

// New returns a Fetcher; zero fields of opts take their defaults.
func New(opts Options) *Fetcher {
	f := &Fetcher{
		maxBytes:     opts.MaxBytes,
		timeout:      opts.Timeout,
		maxRedirects: opts.MaxRedirects,
		checkAddrs:   !opts.DisableValidation,
		resolver:     opts.Resolver,
	}
	if f.maxBytes <= 0 {
		f.maxBytes = defaultMaxBytes
	}
	if f.timeout <= 0 {
		f.timeout = defaultTimeout
	}
	switch {
	case f.maxRedirects == 0:
		f.maxRedirects = defaultMaxRedirects
	case f.maxRedirects < 0:
		f.maxRedirects = 0
	}
	if f.resolver == nil {
		f.resolver = net.DefaultResolver
	}
	for _, s := range opts.AllowedHosts {
		if p, ok := parseAllowedHost(s); ok {
			f.allowed = append(f.allowed, p)
		}
	}
	// The transport dials in the background, detached from the request's
	// deadline, so the dialer needs its own bound.
	f.dialer = net.Dialer{Timeout: f.timeout, KeepAlive: 30 * time.Second}

	rt := opts.Transport
	if rt == nil {
		rt = &http.Transport{
			// No proxy, not even from the environment: a proxy would connect
			// to addresses this package never checked.
			Proxy:                  nil,
			DialContext:            f.dialChecked,
			ForceAttemptHTTP2:      true,
			DisableCompression:     true, // images are compressed already; keeps Content-Length meaningful
			TLSHandshakeTimeout:    10 * time.Second,
			MaxIdleConns:           64,
			MaxIdleConnsPerHost:    4,
			IdleConnTimeout:        90 * time.Second,
			MaxResponseHeaderBytes: 64 << 10,
		}
	}
	f.client = &http.Client{
		Transport: rt,
		// Redirects are followed by hand so every hop is checked again.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		// No Jar: cookies from one client's image host must not reach another's request.
	}
	return f
}

// Fetch downloads url. It returns the response's media type (its
// Content-Type when that is image/*, else sniffed from the bytes, without
// parameters) and the body. Refusals and failures are *Error; when ctx
// itself ends first, the error wraps ctx.Err() instead.
func (f *Fetcher) Fetch(ctx context.Context, rawURL string) (mediaType string, data []byte, err error) {
	parent := ctx
	ctx, cancel := context.WithTimeoutCause(ctx, f.timeout, errTimedOut)
	defer cancel()

	u, err := url.Parse(rawURL)
	if err != nil {
		return "", nil, badRequest(ReasonURLInvalid, err, "image URL is not a valid URL")
	}
	for redirects := 0; ; redirects++ {
		subject := "image URL"
		if redirects > 0 {
			subject = "image URL redirect target"
		}
		resp, err := f.get(ctx, u, subject)
		if err != nil {
			return "", nil, f.failure(parent, ctx, u, err)
		}
		if !isRedirect(resp.StatusCode) || resp.Header.Get("Location") == "" {
			return f.read(parent, ctx, u, resp)
		}
		next, err := resp.Location() // resolves a relative Location against u
		discard(resp)
		if redirects >= f.maxRedirects {
			return "", nil, badRequest(ReasonTooManyRedirects, nil, "image URL redirected more than %d times", f.maxRedirects)
		}
		if err != nil {
			return "", nil, badRequest(ReasonBadRedirect, err, "image URL host %q answered a redirect whose Location is not a valid URL", u.Hostname())
		}
		u = next
	}
}

// get checks u, resolves its host once, and sends the request so that the
// transport can only connect to the addresses that passed.
func (f *Fetcher) get(ctx context.Context, u *url.URL, subject string) (*http.Response, error) {
	plan, err := f.checkURL(ctx, u, subject)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(context.WithValue(ctx, dialPlanKey{}, plan), http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, badRequest(ReasonURLInvalid, err, "%s is not a valid URL", subject)
	}
	req.Header.Set("User-Agent", userAgent)
	return f.client.Do(req)
}

// dialPlan is what a request may connect to: the addresses its host
// resolved to when it was checked. It rides on the request's context to the
// transport's dialer, so there is no second lookup an attacker's DNS could
// answer differently (DNS rebinding).
type dialPlan struct {
	host  string // as in the URL; the transport dials host:port
	addrs []netip.Addr
}

type dialPlanKey struct{}

// checkURL applies the URL rules and the address checks and returns the
// addresses to dial.
func (f *Fetcher) checkURL(ctx context.Context, u *url.URL, subject string) (*dialPlan, error) {
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, badRequest(ReasonURLScheme, nil, "%s scheme %q is not allowed; use http or https", subject, u.Scheme)
	}
	if u.User != nil {
		return nil, badRequest(ReasonURLUserinfo, nil, "%s must not contain a user name or password", subject)
	}
	host := u.Hostname()
	if host == "" {
		return nil, badRequest(ReasonURLInvalid, nil, "%s has no host", subject)
	}
	if !isASCII(host) {
		// The transport would dial the punycode form; resolving and checking
		// a different spelling than the one dialled is not worth the risk.
		return nil, badRequest(ReasonURLInvalid, nil, "%s host %q must be ASCII; write it in its punycode (xn--) form", subject, host)
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	portNum, ok := parsePort(port)
	if !ok {
		return nil, badRequest(ReasonURLInvalid, nil, "%s has an invalid port %q", subject, port)
	}

	check := f.checkAddrs && !f.isAllowed(host, portNum)
	if check && isLocalhostName(host) {
		return nil, blocked(subject, host, fmt.Errorf("%q names this machine", host))
	}
	addrs, err := f.resolve(ctx, host, subject)
	if err != nil {
		return nil, err
	}
	if check {
		for _, a := range addrs {
			if why := nonPublic(a); why != "" {
				return nil, blocked(subject, host, fmt.Errorf("%s is a %s address", a, why))
			}
		}
	}
	return &dialPlan{host: host, addrs: addrs}, nil
}

func blocked(subject, host string, cause error) *Error {
	return badRequest(ReasonBlockedAddress, cause,
		"%s host %q is not a public address; the gateway fetches images only from public addresses", subject, host)
}

func (f *Fetcher) isAllowed(host string, port int) bool {
	for _, p := range f.allowed {
		if p.matches(host, port) {
			return true
		}
	}
	return false
}

// resolve turns host into the addresses to check and dial. IP literals,
// including the legacy IPv4 spellings, never reach the resolver.
func (f *Fetcher) resolve(ctx context.Context, host, subject string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}
	if a, ok := legacyIPv4(host); ok {
		return []netip.Addr{a}, nil
	}
	addrs, err := f.resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err // failure() reports the timeout or cancellation
		}
		return nil, badRequest(ReasonDNS, err, "%s host %q could not be resolved", subject, host)
	}
	if len(addrs) == 0 {
		return nil, badRequest(ReasonDNS, nil, "%s host %q could not be resolved", subject, host)
	}
	for i, a := range addrs {
		addrs[i] = a.Unmap() // the resolver hands back A records as ::ffff:a.b.c.d
	}
	return addrs, nil
}

// dialChecked is the transport's only way out: it connects to the
// addresses in the request's dialPlan and to nothing else.
func (f *Fetcher) dialChecked(ctx context.Context, network, address string) (net.Conn, error) {
	plan, _ := ctx.Value(dialPlanKey{}).(*dialPlan)
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	if plan == nil || !strings.EqualFold(host, plan.host) {
		return nil, fmt.Errorf("fetch: refusing to dial %s: no checked addresses for it", address)
	}
	var errs []error
	for _, a := range plan.addrs {
		c, err := f.dialer.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// read turns the final response into the result.
func (f *Fetcher) read(parent, ctx context.Context, u *url.URL, resp *http.Response) (string, []byte, error) {
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", nil, badRequest(ReasonUpstreamStatus, nil, "image URL answered %d", resp.StatusCode)
	}
	if resp.ContentLength > f.maxBytes {
		return "", nil, f.tooLarge()
	}
	var buf bytes.Buffer
	if resp.ContentLength > 0 {
		buf.Grow(int(resp.ContentLength))
	}
	// One byte over the limit is enough to know the image is too large.
	n, err := buf.ReadFrom(io.LimitReader(resp.Body, f.maxBytes+1))
	if err != nil {
		return "", nil, f.failure(parent, ctx, u, err)
	}
	if n > f.maxBytes {
		return "", nil, f.tooLarge()
	}
	data := buf.Bytes()
	return mediaTypeOf(resp.Header.Get("Content-Type"), data), data, nil
}

func (f *Fetcher) tooLarge() *Error {
	return badRequest(ReasonTooLarge, nil, "image is larger than the limit of %s", formatBytes(f.maxBytes))
}

// failure classifies an error from resolving, connecting or reading.
func (f *Fetcher) failure(parent, ctx context.Context, u *url.URL, err error) error {
	var fe *Error
	if errors.As(err, &fe) {
		return fe
	}
	if perr := parent.Err(); perr != nil {
		return fmt.Errorf("fetch image from host %q: %w", u.Hostname(), perr)
	}
	if errors.Is(context.Cause(ctx), errTimedOut) {
		return &Error{Status: http.StatusGatewayTimeout, Reason: ReasonTimeout, Err: err,
			Msg: fmt.Sprintf("image download from host %q did not finish within %s", u.Hostname(), f.timeout)}
	}
	return badRequest(ReasonUnreachable, err, "could not download the image from host %q", u.Hostname())
}

// mediaTypeOf trusts an image/* Content-Type and sniffs anything else
// (missing, application/octet-stream, text/plain from a careless server).
func mediaTypeOf(contentType string, data []byte) string {
	if mt, _, err := mime.ParseMediaType(contentType); err == nil && strings.HasPrefix(mt, "image/") {
		return mt
	}
	mt, _, _ := mime.ParseMediaType(http.DetectContentType(data))
	return mt
}

func isRedirect(status int) bool {
	switch status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// discard drains a little of a body we do not want, so a short redirect
// body does not cost the connection, then closes it.
func discard(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
