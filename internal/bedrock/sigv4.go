package bedrock

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// sigv4 signs Bedrock runtime calls with AWS Signature Version 4 in the
// Authorization header, exactly as the SDK's v4.Signer.SignHTTP does for
// them, at a fraction of the cost: every call has the same shape (a POST
// with a handful of headers and no query), so the canonical request is
// written straight into one buffer instead of going through header maps,
// string joins and sorts. The signing key, derived from the secret with
// four HMACs, is kept for the day it is valid for.
type sigv4 struct {
	region, service string
	key             atomic.Pointer[signingKey]
}

type signingKey struct {
	secret, date string // what the key was derived from
	key          []byte
	macs         sync.Pool // *macState
}

const (
	sigv4Algorithm  = "AWS4-HMAC-SHA256"
	amzDateFormat   = "20060102T150405Z"
	amzDateHeader   = "X-Amz-Date"
	amzTokenHeader  = "X-Amz-Security-Token"
	authorizationHd = "Authorization"
)

// sign adds X-Amz-Date, X-Amz-Security-Token (for temporary credentials)
// and Authorization to req. bodySum is the SHA-256 of the body.
func (s *sigv4) sign(req *http.Request, creds aws.Credentials, bodySum *[sha256.Size]byte, now time.Time) {
	now = now.UTC()
	var dateBuf [len(amzDateFormat)]byte
	amzDate := string(now.AppendFormat(dateBuf[:0], amzDateFormat))
	day := amzDate[:8]
	req.Header[amzDateHeader] = []string{amzDate}
	if creds.SessionToken != "" {
		req.Header[amzTokenHeader] = []string{creds.SessionToken}
	}
	var headers headerSet
	headers.collect(req, signingHost(req))

	key := s.signingKey(creds.SecretAccessKey, day)
	m := key.macs.Get().(*macState)
	defer key.macs.Put(m)

	// The canonical request: method, path, query, headers, signed header
	// names, payload hash.
	c := append(m.buf[:0], req.Method...)
	c = append(c, '\n')
	c = appendCanonicalPath(c, req.URL.EscapedPath())
	c = append(c, '\n')
	c = append(c, '\n') // no query
	for i := range headers.list() {
		h := &headers.list()[i]
		c = append(c, h.name...)
		c = append(c, ':')
		c = h.appendValue(c)
		c = append(c, '\n')
	}
	c = append(c, '\n')
	c = headers.appendNames(c)
	c = append(c, '\n')
	c = hex.AppendEncode(c, bodySum[:])
	canonicalSum := sha256.Sum256(c)

	// The string to sign, and its HMAC with the day's signing key.
	t := append(c[:0], sigv4Algorithm+"\n"...)
	t = append(t, amzDate...)
	t = append(t, '\n')
	t = s.appendScope(t, day)
	t = append(t, '\n')
	t = hex.AppendEncode(t, canonicalSum[:])
	m.mac.Reset()
	m.mac.Write(t)
	signature := m.mac.Sum(m.sum[:0])

	a := append(t[:0], sigv4Algorithm+" Credential="...)
	a = append(a, creds.AccessKeyID...)
	a = append(a, '/')
	a = s.appendScope(a, day)
	a = append(a, ", SignedHeaders="...)
	a = headers.appendNames(a)
	a = append(a, ", Signature="...)
	a = hex.AppendEncode(a, signature)
	req.Header[authorizationHd] = []string{string(a)}
	m.buf = a[:0]
}

func (s *sigv4) appendScope(b []byte, day string) []byte {
	b = append(b, day...)
	b = append(b, '/')
	b = append(b, s.region...)
	b = append(b, '/')
	b = append(b, s.service...)
	return append(b, "/aws4_request"...)
}

// signingKey returns the key for secret and day, derived once per day.
func (s *sigv4) signingKey(secret, day string) *signingKey {
	if k := s.key.Load(); k != nil && k.date == day && k.secret == secret {
		return k
	}
	key := hmacSHA256([]byte("AWS4"+secret), day)
	key = hmacSHA256(key, s.region)
	key = hmacSHA256(key, s.service)
	key = hmacSHA256(key, "aws4_request")
	k := &signingKey{secret: secret, date: day, key: key}
	k.macs.New = func() any { return &macState{mac: hmac.New(sha256.New, key), buf: make([]byte, 0, 1024)} }
	s.key.Store(k)
	return k
}

// macState is an HMAC keyed with one signing key, and scratch space for
// the canonical request, reused from call to call.
type macState struct {
	mac hash.Hash
	buf []byte
	sum [sha256.Size]byte
}

func hmacSHA256(key []byte, data string) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(data))
	return mac.Sum(nil)
}

// signingHost is the Host header value that is signed and sent. A default
// port is dropped from it, as the SDK does (the same rules, ported).
func signingHost(req *http.Request) string {
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	if port := portOnly(host); port != "" && isDefaultPort(req.URL.Scheme, port) {
		req.Host = stripPort(host)
		return req.Host
	}
	return host
}

func stripPort(hostport string) string {
	colon := strings.IndexByte(hostport, ':')
	if colon == -1 {
		return hostport
	}
	if i := strings.IndexByte(hostport, ']'); i != -1 {
		return strings.TrimPrefix(hostport[:i], "[")
	}
	return hostport[:colon]
}

func portOnly(hostport string) string {
	colon := strings.IndexByte(hostport, ':')
	if colon == -1 {
		return ""
	}
	if i := strings.Index(hostport, "]:"); i != -1 {
		return hostport[i+len("]:"):]
	}
	if strings.Contains(hostport, "]") {
		return ""
	}
	return hostport[colon+len(":"):]
}

func isDefaultPort(scheme, port string) bool {
	switch strings.ToLower(scheme) {
	case "http":
		return port == "80"
	case "https":
		return port == "443"
	}
	return false
}

// appendCanonicalPath escapes the request's (already escaped) path once
// more, as SigV4 wants for every service but S3: everything but unreserved
// characters and "/".
func appendCanonicalPath(b []byte, path string) []byte {
	if path == "" {
		return append(b, '/')
	}
	const hexDigits = "0123456789ABCDEF"
	for i := 0; i < len(path); i++ {
		c := path[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' || c == '/' {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
	}
	return b
}

// unsignedHeaders are the headers the SDK leaves out of the signature:
// proxies and the transport may change them.
var unsignedHeaders = map[string]bool{
	"Authorization": true, "User-Agent": true, "X-Amzn-Trace-Id": true, "Expect": true, "Transfer-Encoding": true,
}

type canonicalHeader struct {
	name   string // lower case
	values []string
	one    string // the value, when values is nil
	length int64  // the value of content-length
}

// appendValue writes the values comma-separated, each trimmed and with
// runs of spaces collapsed.
func (h *canonicalHeader) appendValue(b []byte) []byte {
	switch {
	case h.name == "content-length":
		return strconv.AppendInt(b, h.length, 10)
	case h.values == nil:
		return appendTrimmed(b, h.one, h.name != "host")
	}
	for i, v := range h.values {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendTrimmed(b, v, true)
	}
	return b
}

// appendTrimmed writes v without leading or trailing spaces (any white
// space if trimAll) and with runs of spaces collapsed to one.
func appendTrimmed(b []byte, v string, trimAll bool) []byte {
	if trimAll {
		v = strings.TrimSpace(v)
	}
	v = strings.Trim(v, " ")
	space := false
	for j := 0; j < len(v); j++ {
		if v[j] == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		b = append(b, v[j])
	}
	return b
}

// headerSet holds the signed headers sorted by name; a Bedrock call has
// about six, so they live in an array and are sorted by insertion.
type headerSet struct {
	fixed [8]canonicalHeader
	more  []canonicalHeader
	n     int
}

func (s *headerSet) list() []canonicalHeader {
	if s.more != nil {
		return s.more
	}
	return s.fixed[:s.n]
}

func (s *headerSet) collect(req *http.Request, host string) {
	s.add(canonicalHeader{name: "host", one: host})
	if req.ContentLength > 0 {
		s.add(canonicalHeader{name: "content-length", length: req.ContentLength})
	}
	for k, v := range req.Header {
		if unsignedHeaders[k] || strings.EqualFold(k, "content-length") || strings.EqualFold(k, "host") {
			continue
		}
		h := canonicalHeader{name: lowerASCII(k), values: v}
		if len(v) == 1 {
			h = canonicalHeader{name: h.name, one: v[0]}
		}
		s.add(h)
	}
}

func (s *headerSet) add(h canonicalHeader) {
	l := s.list()
	for i := range l {
		if l[i].name == h.name { // the same name in two spellings
			l[i].values = append(l[i].all(), h.all()...)
			return
		}
	}
	if s.more == nil && s.n < len(s.fixed) {
		s.fixed[s.n] = h
		s.n++
	} else {
		if s.more == nil {
			s.more = append([]canonicalHeader(nil), s.fixed[:s.n]...)
		}
		s.more = append(s.more, h)
	}
	l = s.list()
	for i := len(l) - 1; i > 0 && l[i].name < l[i-1].name; i-- {
		l[i], l[i-1] = l[i-1], l[i]
	}
}

func (h *canonicalHeader) all() []string {
	if h.values == nil {
		return []string{h.one}
	}
	return h.values[:len(h.values):len(h.values)]
}

// appendNames writes the signed header names, separated by ";".
func (s *headerSet) appendNames(b []byte) []byte {
	for i, h := range s.list() {
		if i > 0 {
			b = append(b, ';')
		}
		b = append(b, h.name...)
	}
	return b
}

// lowerASCII lower-cases a header name, without allocating for the
// canonical names a Bedrock call carries.
func lowerASCII(k string) string {
	switch k {
	case "Content-Type":
		return "content-type"
	case "Accept":
		return "accept"
	case amzDateHeader:
		return "x-amz-date"
	case amzTokenHeader:
		return "x-amz-security-token"
	}
	return strings.ToLower(k)
}
