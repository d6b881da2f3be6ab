package server

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strconv"
	"sync/atomic"
)

// net/http drops a request's Content-Length when Transfer-Encoding is
// present too, before any handler sees it. A load balancer in front may
// have framed the same bytes by Content-Length, and then what follows the
// chunked body here is, for it, still the first request's body: request
// smuggling. RFC 9112 section 6.3 says to treat such a message as an error
// and close the connection. So the bytes of each connection are followed
// as they are read, request head by request head, and a head with both
// headers is remembered; its handler answers 400 and the connection is
// closed, so nothing after it is served.

// GuardListener wraps ln so that the server can see the framing headers of
// each request as it arrived. Serve with ConnContext too.
func GuardListener(ln net.Listener) net.Listener { return guardedListener{ln} }

// ConnContext is the http.Server hook that hands each request the
// connection's framing guard.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if g, ok := c.(*guardedConn); ok {
		return context.WithValue(ctx, framingKey{}, g)
	}
	return ctx
}

type framingKey struct{}

type guardedListener struct{ net.Listener }

func (l guardedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	g := &guardedConn{Conn: c}
	g.framing.startHead()
	g.ambiguous.Store(-1)
	return g, nil
}

type guardedConn struct {
	net.Conn
	framing framingScanner // used by Read only, which net/http never calls concurrently
	// ambiguous is the index on this connection of the first request whose
	// head had both Content-Length and Transfer-Encoding; -1 if none.
	ambiguous atomic.Int64
	served    int64 // requests handed to the handler; touched by ServeHTTP only
}

func (c *guardedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && !c.framing.off {
		if i := c.framing.scan(p[:n]); i >= 0 {
			c.ambiguous.CompareAndSwap(-1, i)
		}
	}
	return n, err
}

// ambiguousFraming reports whether the request being served (handlers on a
// connection run one after another) arrived with both Content-Length and
// Transfer-Encoding, or after one that did.
func ambiguousFraming(ctx context.Context) bool {
	g, ok := ctx.Value(framingKey{}).(*guardedConn)
	if !ok {
		return false
	}
	i := g.served
	g.served++
	first := g.ambiguous.Load()
	return first >= 0 && i >= first
}

// framingScanner follows HTTP/1.1 requests through a connection's bytes:
// a head's lines, then a body framed as net/http frames it (chunked, or
// Content-Length bytes, or none). It keeps a few bytes per line at most.
type framingScanner struct {
	state    int
	line     [64]byte // the start of the current line, enough for a header name and a length
	lineLen  int
	requests int64 // heads seen so far
	sawLine  bool  // the head has its request line
	length   int64 // Content-Length of the current head; -1 if none
	te       bool  // the current head has Transfer-Encoding
	remain   int64 // body bytes left to skip
	off      bool  // stopped following: net/http refuses or closes what comes next
}

const (
	inHead = iota
	inBody
	inChunkSize
	inChunkData
	inChunkEnd
	inTrailer
)

// scan follows b and returns the index of a request head with both
// framing headers, or -1.
func (f *framingScanner) scan(b []byte) int64 {
	found := int64(-1)
	for len(b) > 0 && !f.off {
		switch f.state {
		case inBody, inChunkData:
			n := min(int64(len(b)), f.remain)
			b, f.remain = b[n:], f.remain-n
			if f.remain == 0 {
				if f.state == inBody {
					f.startHead()
				} else {
					f.state = inChunkEnd
				}
			}
			continue
		}
		i := bytes.IndexByte(b, '\n')
		chunk := b
		if i >= 0 {
			chunk = b[:i]
		}
		f.lineLen += copy(f.line[min(f.lineLen, len(f.line)):], chunk)
		if i < 0 {
			return found
		}
		b = b[i+1:]
		line := bytes.TrimRight(f.line[:min(f.lineLen, len(f.line))], "\r")
		full := f.lineLen <= len(f.line)
		f.lineLen = 0
		if f.endLine(line, full) {
			found = f.requests - 1
		}
	}
	return found
}

func (f *framingScanner) startHead() {
	f.state, f.sawLine, f.length, f.te = inHead, false, -1, false
}

// endLine takes one whole line (its first bytes, and whether they are all
// of it) and reports whether it ended a head with both framing headers.
func (f *framingScanner) endLine(line []byte, full bool) bool {
	switch f.state {
	case inHead:
		if len(line) == 0 {
			if !f.sawLine {
				return false // blank lines before a request line are skipped, as net/http does
			}
			return f.endHead()
		}
		if !f.sawLine {
			f.sawLine = true
			f.requests++
			return false
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return false
		}
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, err := strconv.ParseInt(string(bytes.TrimSpace(value)), 10, 64)
			if err != nil || !full {
				n = -2 // net/http refuses it; the length does not matter
			}
			f.length = n
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			f.te = true
		}
	case inChunkSize:
		hex, _, _ := bytes.Cut(line, []byte(";"))
		n, err := strconv.ParseInt(string(bytes.TrimSpace(hex)), 16, 64)
		if err != nil || !full || n < 0 {
			f.off = true // malformed: net/http refuses the body and closes
			return false
		}
		if n == 0 {
			f.state = inTrailer
		} else {
			f.state, f.remain = inChunkData, n
		}
	case inChunkEnd:
		f.state = inChunkSize
	case inTrailer:
		if len(line) == 0 {
			f.startHead()
		}
	}
	return false
}

// endHead decides how the body after a head is framed.
func (f *framingScanner) endHead() bool {
	switch {
	case f.te && f.length != -1:
		f.off = true // refused; the connection closes after the answer
		return true
	case f.te:
		// Only "chunked" is served; anything else is refused by net/http,
		// which then closes the connection.
		f.state = inChunkSize
	case f.length > 0:
		f.state, f.remain = inBody, f.length
	case f.length < -1:
		f.off = true
	default:
		f.startHead()
	}
	return false
}

// errAmbiguousFraming refuses a request framed two ways.
var errAmbiguousFraming = &bodyError{status: 400, code: "ambiguous_framing",
	msg: "the request has both Content-Length and Transfer-Encoding; send one of them",
	err: errors.New("request smuggling guard")}
