package spend

import "time"

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
