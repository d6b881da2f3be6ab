package config

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
)

const redacted = "[redacted]"

// Secret holds a credential read from the config. Every way of printing or
// encoding it (fmt verbs, JSON, text, slog) shows "[redacted]", or "" when it is
// empty, so logging a Config cannot leak it; Value returns the real string.
type Secret string

// Value returns the secret itself, for the one place that must use it.
func (s Secret) Value() string { return string(s) }

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// Format makes every fmt verb, including %x and %q, print the redacted form.
func (s Secret) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'q' || verb == 'v' && f.Flag('#'):
		io.WriteString(f, s.GoString())
	default:
		io.WriteString(f, s.String())
	}
}

func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }
