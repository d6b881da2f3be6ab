package bedrock

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

func encodeFrame(t *testing.T, msg eventstream.Message) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := eventstream.NewEncoder().Encode(&buf, msg); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func eventMessage(eventType, payload string) eventstream.Message {
	msg := eventstream.Message{Payload: []byte(payload)}
	msg.Headers.Set(":event-type", eventstream.StringValue(eventType))
	msg.Headers.Set(":content-type", eventstream.StringValue("application/json"))
	msg.Headers.Set(":message-type", eventstream.StringValue("event"))
	return msg
}

func TestStreamRejectsDamagedFrames(t *testing.T) {
	good := encodeFrame(t, eventMessage("contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"hi"}}`))
	damage := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	cases := map[string]struct {
		frame []byte
		want  string
	}{
		"prelude checksum":   {damage(func(b []byte) []byte { b[9] ^= 1; return b }), "checksum mismatch"},
		"message checksum":   {damage(func(b []byte) []byte { b[len(b)-6] ^= 1; return b }), "checksum mismatch"},
		"cut in the prelude": {good[:7], io.ErrUnexpectedEOF.Error()},
		"cut in the payload": {good[:len(good)-10], io.ErrUnexpectedEOF.Error()},
		"length below the minimum": {damage(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[0:4], 8)
			return fixPreludeCRC(b)
		}), ""},
		"headers longer than the message": {damage(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[4:8], binary.BigEndian.Uint32(b[0:4]))
			return fixPreludeCRC(b)
		}), ""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			s := NewStreamReader(io.NopCloser(bytes.NewReader(c.frame)))
			var ev StreamEvent
			err := s.Next(&ev)
			if !errors.Is(err, ErrStreamTruncated) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want ErrStreamTruncated mentioning %q", err, c.want)
			}
			if err := s.Next(&ev); err != io.EOF {
				t.Fatalf("after a failure Next gave %v, want io.EOF", err)
			}
		})
	}
}

func fixPreludeCRC(b []byte) []byte {
	binary.BigEndian.PutUint32(b[8:12], crc32.ChecksumIEEE(b[:8]))
	binary.BigEndian.PutUint32(b[len(b)-4:], crc32.ChecksumIEEE(b[:len(b)-4]))
	return b
}

func TestStreamReportsExceptionsAndErrors(t *testing.T) {
	exc := eventstream.Message{Payload: []byte(`{"message":"Too many tokens"}`)}
	exc.Headers.Set(":message-type", eventstream.StringValue("exception"))
	exc.Headers.Set(":exception-type", eventstream.StringValue("throttlingException"))
	errMsg := eventstream.Message{}
	errMsg.Headers.Set(":message-type", eventstream.StringValue("error"))
	errMsg.Headers.Set(":error-code", eventstream.StringValue("InternalFailure"))
	errMsg.Headers.Set(":error-message", eventstream.StringValue("something broke"))
	for _, c := range []struct {
		msg           eventstream.Message
		code, message string
	}{
		{exc, "ThrottlingException", "Too many tokens"},
		{errMsg, "InternalFailure", "something broke"},
	} {
		s := NewStreamReader(io.NopCloser(bytes.NewReader(encodeFrame(t, c.msg))))
		var ev StreamEvent
		err := s.Next(&ev)
		var ae *APIError
		if !errors.As(err, &ae) || ae.Code != c.code || ae.Message != c.message {
			t.Fatalf("got %v, want APIError %s: %s", err, c.code, c.message)
		}
	}
}

// Events are decoded into storage the stream reuses: no event structs are
// allocated per event, and every field is reset between events.
func TestStreamReusesEventStorage(t *testing.T) {
	var stream []byte
	stream = append(stream, encodeFrame(t, eventMessage("contentBlockDelta", `{"contentBlockIndex":1,"delta":{"toolUse":{"input":"{\"a\""}}}`))...)
	stream = append(stream, encodeFrame(t, eventMessage("contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"hi"}}`))...)
	s := NewStreamReader(io.NopCloser(bytes.NewReader(stream)))
	var ev StreamEvent
	if err := s.Next(&ev); err != nil || ev.ContentBlockDelta.Delta.ToolUse == nil {
		t.Fatalf("first event: %v %+v", err, ev)
	}
	if err := s.Next(&ev); err != nil {
		t.Fatal(err)
	}
	d := ev.ContentBlockDelta
	if d.ContentBlockIndex != 0 || d.Delta.ToolUse != nil || d.Delta.Text == nil || *d.Delta.Text != "hi" {
		t.Fatalf("second event kept the first one's fields: %+v", d)
	}
}

// An InvokeModelWithResponseStream body cut inside a frame is a truncation,
// not the end of the answer.
func TestInvokeChunksReportCutFrames(t *testing.T) {
	chunk := eventMessage(InvokeChunkEvent, `{"bytes":"eyJ0ZXh0IjoiaGkifQ=="}`)
	whole := encodeFrame(t, chunk)
	body := append(bytes.Clone(whole), whole[:len(whole)-5]...)
	s := NewInvokeChunks(io.NopCloser(bytes.NewReader(body)))
	got, err := s.Next()
	if err != nil || string(got) != `{"text":"hi"}` {
		t.Fatalf("first chunk %q, %v", got, err)
	}
	if _, err := s.Next(); !errors.Is(err, ErrStreamTruncated) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("cut frame: got %v, want ErrStreamTruncated (unexpected EOF)", err)
	}
	if _, err := s.Next(); err != io.EOF {
		t.Fatalf("after the failure: %v, want io.EOF", err)
	}
}

// readsOf hands out one of its parts per Read, as a connection hands out
// what has arrived.
type readsOf struct{ parts [][]byte }

func (r *readsOf) Read(p []byte) (int, error) {
	if len(r.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.parts[0])
	if r.parts[0] = r.parts[0][n:]; len(r.parts[0]) == 0 {
		r.parts = r.parts[1:]
	}
	return n, nil
}

// BeforeWait must run exactly when the next event is not yet at hand: after
// the last of a burst that arrived together, and never between the events
// of that burst, so that a relay flushing there sends each burst at once.
func TestStreamBeforeWaitRunsOnlyWhenTheNextEventMustBeAwaited(t *testing.T) {
	frame := func(text string) []byte {
		return encodeFrame(t, eventMessage("contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"`+text+`"}}`))
	}
	a, b, c, d, e := frame("a"), frame("b"), frame("c"), frame("d"), frame("e")
	split := len(d) / 2
	conn := &readsOf{parts: [][]byte{
		slices.Concat(a, b, c), // three events that arrived together
		d[:split],              // an event cut across two reads
		slices.Concat(d[split:], e),
	}}
	s := NewStreamReader(io.NopCloser(conn))
	var got []string // the events returned so far, at each wait
	var texts []string
	s.BeforeWait(func() { got = append(got, strings.Join(texts, "")) })
	var ev StreamEvent
	for {
		err := s.Next(&ev)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		texts = append(texts, *ev.ContentBlockDelta.Delta.Text)
	}
	want := []string{"", "abc", "abc", "abcde"}
	if !slices.Equal(got, want) {
		t.Fatalf("waits came after events %q, want %q", got, want)
	}
}

func TestInvokeChunksBeforeWait(t *testing.T) {
	chunk := func(native string) []byte {
		payload := `{"bytes":"` + base64.StdEncoding.EncodeToString([]byte(native)) + `"}`
		return encodeFrame(t, eventMessage(InvokeChunkEvent, payload))
	}
	conn := &readsOf{parts: [][]byte{slices.Concat(chunk(`{"n":1}`), chunk(`{"n":2}`)), chunk(`{"n":3}`)}}
	s := NewInvokeChunks(io.NopCloser(conn))
	var seen, waits []int
	s.BeforeWait(func() { waits = append(waits, len(seen)) })
	for {
		c, err := s.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, len(c))
	}
	if want := []int{0, 2, 3}; !slices.Equal(waits, want) {
		t.Fatalf("waits came after %v chunks, want %v", waits, want)
	}
}
