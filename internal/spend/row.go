package spend

import (
	"crypto/rand"
	"time"
)

// Row is one request's spend log entry: who asked, for what, what it used
// and cost. It holds no prompt or answer text.
type Row struct {
	ID        string // unique per row, so a batch written twice is stored once
	RequestID string
	CallType  string // "chat", "embeddings" or "images"
	Stream    bool

	KeyHash  string // the virtual key's hash; "" for the master key or no key
	KeyAlias string
	TeamID   string
	UserID   string
	EndUser  string // the request's OpenAI "user" field

	Model      string // the model name asked for
	ModelGroup string // the model name that served it (a fallback's, if one did)
	Deployment string // "<model_name>#<n>"
	ModelID    string // the Bedrock model id called

	Usage Usage
	// Estimated is set when Bedrock never reported the usage (a stream
	// the client abandoned or that broke off): the tokens are estimated
	// from the text sent and received.
	Estimated bool
	Cost      float64 // US dollars

	Start, End time.Time
	Status     int // the HTTP status answered
	// Prompt is the request body, kept only when a setting asks for it.
	Prompt string
}

// idAlphabet is Crockford's base32, in ASCII order, so that ids compare as
// their bits do.
const idAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// NewID is a unique id that sorts by time: 10 characters of t in
// milliseconds, then 16 of randomness (80 bits), as in a ULID. Rows keyed
// by it are added at the end of their database indexes, where a random id
// would touch a random page of the index for every row.
func NewID(t time.Time) string {
	var b [26]byte
	ms := uint64(t.UnixMilli())
	for i := 9; i >= 0; i-- {
		b[i] = idAlphabet[ms&31]
		ms >>= 5
	}
	var r [10]byte
	_, _ = rand.Read(r[:])
	// 80 random bits, 5 at a time.
	bits, n, j := uint64(0), 0, 0
	for i := 10; i < 26; i++ {
		for n < 5 {
			bits = bits<<8 | uint64(r[j])
			j++
			n += 8
		}
		n -= 5
		b[i] = idAlphabet[(bits>>n)&31]
	}
	return string(b[:])
}
