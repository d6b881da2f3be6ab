package bedrock

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"strings"
	"testing"
	"time"

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

// The frame reader must read whatever the AWS SDK's encoder writes, every
// header value type included, as the SDK's own decoder reads it.
func TestFrameReaderReadsWhatTheSDKWrites(t *testing.T) {
	var msgs []eventstream.Message
	all := eventMessage("contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"hi"}}`)
	all.Headers.Set("bool-true", eventstream.BoolValue(true))
	all.Headers.Set("bool-false", eventstream.BoolValue(false))
	all.Headers.Set("byte", eventstream.Int8Value(-3))
	all.Headers.Set("int16", eventstream.Int16Value(-300))
	all.Headers.Set("int32", eventstream.Int32Value(70000))
	all.Headers.Set("int64", eventstream.Int64Value(1<<40))
	all.Headers.Set("bytes", eventstream.BytesValue([]byte{0, 1, 2, 255}))
	all.Headers.Set("timestamp", eventstream.TimestampValue(time.Unix(1700000000, 0)))
	all.Headers.Set("uuid", eventstream.UUIDValue{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	msgs = append(msgs, all,
		eventMessage("messageStart", ""), // no payload
		eventMessage("contentBlockDelta", `{"delta":{"text":"`+strings.Repeat("x", 70000)+`"}}`), // grows the buffer
		eventMessage("contentBlockStop", `{"contentBlockIndex":0}`),
		eventstream.Message{Payload: []byte("no headers at all")},
	)
	var stream []byte
	for _, m := range msgs {
		stream = append(stream, encodeFrame(t, m)...)
	}
	fr := frameReader{r: bytes.NewReader(stream)}
	sdk := eventstream.NewDecoder()
	sdkIn := bytes.NewReader(stream)
	for i := range msgs {
		var f frame
		if err := fr.next(&f); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		want, err := sdk.Decode(sdkIn, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(f.payload, want.Payload) {
			t.Errorf("message %d: payload %.40q, want %.40q", i, f.payload, want.Payload)
		}
		if got, want := string(f.messageType), headerString(want.Headers, ":message-type"); got != want {
			t.Errorf("message %d: :message-type %q, want %q", i, got, want)
		}
		if got, want := string(f.eventType), headerString(want.Headers, ":event-type"); got != want {
			t.Errorf("message %d: :event-type %q, want %q", i, got, want)
		}
	}
	var f frame
	if err := fr.next(&f); err != io.EOF {
		t.Fatalf("after the last message: %v, want io.EOF", err)
	}
}

func TestStreamRejectsDamagedFrames(t *testing.T) {
	good := encodeFrame(t, eventMessage("contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"hi"}}`))
	damage := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	cases := map[string]struct {
		frame []byte
		want  string
	}{
		"prelude checksum":   {damage(func(b []byte) []byte { b[9] ^= 1; return b }), "prelude checksum mismatch"},
		"message checksum":   {damage(func(b []byte) []byte { b[len(b)-6] ^= 1; return b }), "message checksum mismatch"},
		"cut in the prelude": {good[:7], io.ErrUnexpectedEOF.Error()},
		"cut in the payload": {good[:len(good)-10], io.ErrUnexpectedEOF.Error()},
		"length below the minimum": {damage(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[0:4], 8)
			return fixPreludeCRC(b)
		}), "invalid message lengths"},
		"headers longer than the message": {damage(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[4:8], binary.BigEndian.Uint32(b[0:4]))
			return fixPreludeCRC(b)
		}), "invalid message lengths"},
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
