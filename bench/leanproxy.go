package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
)

// The lean reference proxies do what the bare net/http proxy does (read the
// request whole, send it upstream, pass the answer through, a stream's
// bytes flushed as they are read) on a leaner HTTP stack: fasthttp on both
// sides, or Go's server in front of fasthttp's client. Measured beside the
// net/http proxy, they show how much a different HTTP stack could gain on
// this path, before any gateway work is added.

// leanUpstream parses -upstream into the address fasthttp's client dials.
func leanUpstream(fs *flag.FlagSet, args []string) (addr string, listen string, err error) {
	listenAddr := fs.String("addr", "127.0.0.1:0", "address to listen on")
	upstream := fs.String("upstream", "", "upstream base URL (http)")
	if err := fs.Parse(args); err != nil {
		return "", "", err
	}
	u, err := url.Parse(*upstream)
	if err != nil || u.Host == "" || u.Scheme != "http" {
		return "", "", fmt.Errorf("-upstream %q is not an http URL", *upstream)
	}
	return u.Host, *listenAddr, nil
}

// newLeanClient is fasthttp's client to one upstream host, streaming
// answers so that a stream's events pass through as they come.
func newLeanClient(addr string) *fasthttp.HostClient {
	return &fasthttp.HostClient{
		Addr:                          addr,
		MaxConns:                      1024,
		MaxIdleConnDuration:           90 * time.Second,
		StreamResponseBody:            true,
		NoDefaultUserAgentHeader:      true,
		DisableHeaderNamesNormalizing: true,
	}
}

// copyFlushing copies r to w, flushing after every read.
func copyFlushing(w io.Writer, flush func() error, r io.Reader) error {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			if ferr := flush(); ferr != nil {
				return ferr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// runFastProxy serves the pass-through proxy with fasthttp's server and client.
func runFastProxy(args []string) error {
	addr, listen, err := leanUpstream(flag.NewFlagSet("bench fastproxy", flag.ContinueOnError), args)
	if err != nil {
		return err
	}
	client := newLeanClient(addr)
	handler := func(ctx *fasthttp.RequestCtx) {
		req := fasthttp.AcquireRequest()
		resp := fasthttp.AcquireResponse()
		ctx.Request.CopyTo(req)
		req.SetHost(addr)
		err := client.Do(req, resp)
		fasthttp.ReleaseRequest(req)
		if err != nil {
			fasthttp.ReleaseResponse(resp)
			ctx.Error(err.Error(), fasthttp.StatusBadGateway)
			return
		}
		resp.Header.CopyTo(&ctx.Response.Header)
		if resp.Header.ContentLength() >= 0 {
			ctx.Response.SetBody(resp.Body())
			fasthttp.ReleaseResponse(resp)
			return
		}
		// A stream: written after the handler returns, a read at a time,
		// each flushed; a client gone fails the write and ends the copy.
		ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
			_ = copyFlushing(w, w.Flush, resp.BodyStream())
			_ = resp.CloseBodyStream()
			fasthttp.ReleaseResponse(resp)
		})
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	fmt.Println(ln.Addr().String())
	srv := &fasthttp.Server{
		Handler:               handler,
		ReadTimeout:           10 * time.Second,
		NoDefaultServerHeader: true,
		Logger:                log.New(io.Discard, "", 0),
	}
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		_ = srv.Shutdown()
	}()
	return srv.Serve(ln)
}

// runHybridProxy serves the pass-through proxy with Go's net/http server
// (which a gateway keeps for HTTP/2 from its clients) in front of
// fasthttp's client to the upstream.
func runHybridProxy(args []string) error {
	addr, listen, err := leanUpstream(flag.NewFlagSet("bench hybridproxy", flag.ContinueOnError), args)
	if err != nil {
		return err
	}
	client := newLeanClient(addr)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		req := fasthttp.AcquireRequest()
		defer fasthttp.ReleaseRequest(req)
		req.Header.SetMethod(r.Method)
		req.SetRequestURI(r.URL.RequestURI())
		req.SetHost(addr)
		for k, vs := range r.Header {
			for _, v := range vs {
				req.Header.Add(k, v)
			}
		}
		req.SetBodyRaw(body)
		resp := fasthttp.AcquireResponse()
		defer fasthttp.ReleaseResponse(resp)
		if err := client.Do(req, resp); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.CloseBodyStream()
		dst := w.Header()
		for k, v := range resp.Header.All() {
			switch string(k) {
			case "Content-Length", "Transfer-Encoding", "Connection":
				continue
			}
			dst[string(k)] = append(dst[string(k)], string(v))
		}
		n := resp.Header.ContentLength()
		if n >= 0 {
			dst["Content-Length"] = []string{strconv.Itoa(n)}
		}
		w.WriteHeader(resp.StatusCode())
		flush := func() error { return nil }
		if n < 0 {
			flush = http.NewResponseController(w).Flush
		}
		_ = copyFlushing(w, flush, resp.BodyStream())
	})
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	fmt.Println(ln.Addr().String())
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
