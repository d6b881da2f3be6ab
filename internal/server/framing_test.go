package server

import (
	"math/rand/v2"
	"testing"
)

func TestFramingScanner(t *testing.T) {
	const (
		chunkedWithTrailer = "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"5;ext=1\r\nhello\r\n1a\r\nContent-Length: 5\r\n\r\nabcdefghi\r\n0\r\nX-Trailer: 1\r\n\r\n"
		declared = "POST /b HTTP/1.1\r\nHost: x\r\ncontent-length: 40\r\n\r\n" +
			"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nxxxxx"
		get       = "GET /c HTTP/1.1\r\nHost: x\r\n\r\n"
		ambiguous = "POST /d HTTP/1.1\r\nHost: x\r\nContent-Length: 30\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"3\r\n{}\n\r\n0\r\n\r\n"
	)
	cases := []struct {
		name   string
		stream string
		want   int64
	}{
		{"plain requests, bodies that look like heads", "\r\n" + get + chunkedWithTrailer + declared + get, -1},
		{"both framing headers", ambiguous + get, 0},
		{"both framing headers after others", get + declared + ambiguous + get, 2},
	}
	for _, c := range cases {
		for _, split := range []string{"whole", "bytes", "random"} {
			t.Run(c.name+"/"+split, func(t *testing.T) {
				var f framingScanner
				f.startHead()
				got := int64(-1)
				feed := func(b string) {
					if i := f.scan([]byte(b)); i >= 0 && got < 0 {
						got = i
					}
				}
				s := c.stream
				switch split {
				case "whole":
					feed(s)
				case "bytes":
					for i := range len(s) {
						feed(s[i : i+1])
					}
				case "random":
					r := rand.New(rand.NewPCG(1, 2))
					for len(s) > 0 {
						n := min(len(s), 1+r.IntN(20))
						feed(s[:n])
						s = s[n:]
					}
				}
				if got != c.want {
					t.Errorf("ambiguous head at %d, want %d", got, c.want)
				}
			})
		}
	}
}
