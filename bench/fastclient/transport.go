package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
)

// transport is an http.RoundTripper on fasthttp's client: one pool of
// HTTP/1.1 connections per host, TLS for https URLs, answers streamed.
//
// What it does not do, and net/http's transport does: HTTP/2 to the
// upstream, proxies from the environment, and cancelling a call whose
// context ends while it waits for the answer's headers or blocks in a read
// (a context that ends is only seen between reads, and a deadline bounds
// the wait for the headers).
type transport struct {
	client *fasthttp.Client
}

func newTransport() *transport {
	return &transport{client: &fasthttp.Client{
		MaxConnsPerHost:               1024,
		MaxIdleConnDuration:           90 * time.Second,
		StreamResponseBody:            true,
		NoDefaultUserAgentHeader:      true,
		DisableHeaderNamesNormalizing: true,
	}}
}

func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx := r.Context()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.Header.SetMethod(r.Method)
	req.SetRequestURI(r.URL.String())
	if r.Host != "" && r.Host != r.URL.Host {
		req.UseHostHeader = true
		req.Header.SetHost(r.Host)
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if r.Body != nil {
		var body bytes.Buffer
		if r.ContentLength > 0 {
			body.Grow(int(r.ContentLength))
		}
		_, err := body.ReadFrom(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		req.SetBodyRaw(body.Bytes())
	}
	resp := fasthttp.AcquireResponse()
	var err error
	if deadline, ok := ctx.Deadline(); ok {
		err = t.client.DoDeadline(req, resp, deadline)
	} else {
		err = t.client.Do(req, resp)
	}
	if err != nil {
		fasthttp.ReleaseResponse(resp)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	h := make(http.Header, resp.Header.Len())
	for k, v := range resp.Header.All() {
		key := http.CanonicalHeaderKey(string(k))
		h[key] = append(h[key], string(v))
	}
	code := resp.StatusCode()
	size := int64(resp.Header.ContentLength())
	if size < 0 {
		size = -1 // chunked or until the connection closes: unknown
	}
	return &http.Response{
		Status:        strconv.Itoa(code) + " " + http.StatusText(code),
		StatusCode:    code,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          &body{ctx: ctx, resp: resp, stream: resp.BodyStream()},
		ContentLength: size,
		Request:       r,
	}, nil
}

// body reads a streamed answer and gives the response back to fasthttp's
// pool when closed.
type body struct {
	ctx    context.Context
	resp   *fasthttp.Response
	stream io.Reader
	closed bool
}

func (b *body) Read(p []byte) (int, error) {
	if b.closed {
		return 0, errors.New("read on a closed body")
	}
	if err := b.ctx.Err(); err != nil {
		return 0, err
	}
	return b.stream.Read(p)
}

func (b *body) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	err := b.resp.CloseBodyStream()
	fasthttp.ReleaseResponse(b.resp)
	return err
}
