package emulator

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/strata-gateway/strata/internal/bedrock"
)

// Options configures an Emulator.
type Options struct {
	// Keys maps access key ids to their secrets. Requests signed with any other
	// key get 403 UnrecognizedClientException, as on AWS.
	Keys map[string]Key
	// APIKeys are the Bedrock API keys accepted as "Authorization: Bearer";
	// any other bearer token gets Bedrock's 403.
	APIKeys []string
	// Region, if set, is the only region a request's credential scope may name.
	// Empty accepts any region.
	Region string
	// SkipAuth turns signature verification off, for load benchmarks.
	SkipAuth bool
	// Logger receives one line per call; nil discards.
	Logger *slog.Logger
	// Clock tells the time for signature expiry; nil means time.Now.
	Clock func() time.Time
	// STS configures the STS endpoint served at the root path.
	STS STSOptions
}

// Key is the secret half of an access key.
type Key struct {
	Secret string
	// SessionToken, if non-empty, must arrive in X-Amz-Security-Token, as with
	// temporary credentials.
	SessionToken string
}

// The demo's credentials: AWS's documented example key pair, which no real
// account accepts, so a leaked demo config can never reach a real account.
const (
	DemoAccessKeyID     = "AKIAIOSFODNN7EXAMPLE"
	DemoSecretAccessKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	DemoRegion          = "us-east-1"
)

// DemoKeys returns Options.Keys holding only the demo key.
func DemoKeys() map[string]Key {
	return map[string]Key{DemoAccessKeyID: {Secret: DemoSecretAccessKey}}
}

// Call is one request the emulator received, whether it was answered or rejected.
type Call struct {
	Operation   string                   `json:"operation"` // Converse | ConverseStream | InvokeModel | ... | Rerank; empty for unknown paths
	ModelID     string                   `json:"model_id"`  // decoded from the path; Rerank's modelArn
	RawPath     string                   `json:"raw_path"`  // the path as it arrived, still escaped
	Header      http.Header              `json:"header"`
	Body        json.RawMessage          `json:"body"` // a JSON string holding the raw text if the body was not JSON
	Converse    *bedrock.ConverseRequest `json:"converse,omitempty"`
	AccessKeyID string                   `json:"access_key_id"`
	AuthScheme  string                   `json:"auth_scheme"` // "sigv4", "bearer" or "" (none or unreadable)
	Region      string                   `json:"region"`
	Time        time.Time                `json:"time"`
	Status      int                      `json:"status"`          // HTTP status answered
	Error       string                   `json:"error,omitempty"` // why the call was rejected
	Fault       string                   `json:"fault,omitempty"` // kind of the fault that hit this call
}

// Emulator is an http.Handler that speaks the Bedrock runtime protocol.
type Emulator struct {
	opts   Options
	log    *slog.Logger
	now    func() time.Time
	signer *v4.Signer

	mu      sync.Mutex
	calls   []Call
	scripts []Script
	faults  []*queuedFault

	sts stsState
}

// New returns an Emulator configured by opts.
func New(opts Options) *Emulator {
	e := &Emulator{opts: opts, log: opts.Logger, now: opts.Clock, signer: v4.NewSigner()}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.now == nil {
		e.now = time.Now
	}
	return e
}

// Calls returns a copy of every call received so far, in order.
func (e *Emulator) Calls() []Call {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Call(nil), e.calls...)
}

// Reset forgets calls, queued scripts and faults.
func (e *Emulator) Reset() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls, e.scripts, e.faults = nil, nil, nil
	e.sts.reset()
}

// operation is one route under /model/{modelId}. Adding InvokeModel means adding
// an entry here and its serve function.
type operation struct {
	name   string
	suffix string // what follows the model id in the path
	serve  func(e *Emulator, x *exchange) error
}

var operations = []operation{
	{name: "Converse", suffix: "/converse", serve: (*Emulator).serveConverse},
	{name: "ConverseStream", suffix: "/converse-stream", serve: (*Emulator).serveConverseStream},
	{name: "InvokeModel", suffix: "/invoke", serve: (*Emulator).serveInvoke},
	{name: "InvokeModelWithResponseStream", suffix: "/invoke-with-response-stream", serve: (*Emulator).serveInvokeStream},
	{name: "CountTokens", suffix: "/count-tokens", serve: (*Emulator).serveCountTokens},
}

const (
	modelPathPrefix = "/model/"
	controlPrefix   = "/_emulator/"
	maxBodyBytes    = 32 << 20
)

// exchange is one request being served: what arrived and what will be recorded about it.
type exchange struct {
	w         http.ResponseWriter
	r         *http.Request
	start     time.Time
	body      []byte
	call      Call
	committed bool // the call is recorded
	started   bool // response headers are sent
}

// answerJSON sends v as a 200 JSON answer, after any headers already set.
func (x *exchange) answerJSON(v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("emulator: encode answer: %w", err)
	}
	h := x.w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(raw)))
	x.started = true
	x.w.WriteHeader(http.StatusOK)
	_, err = x.w.Write(raw)
	return err
}

// latency is what Bedrock reports as metrics.latencyMs: time since the request arrived.
func (x *exchange) latency(now time.Time) *bedrock.Metrics {
	return &bedrock.Metrics{LatencyMs: max(1, now.Sub(x.start).Milliseconds())}
}

// ServeHTTP answers the Bedrock runtime routes, STS at the root path, and the
// unsigned control API under /_emulator/.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, controlPrefix) {
		e.serveControl(w, r)
		return
	}
	if isSTSRequest(r) {
		e.serveSTS(w, r)
		return
	}
	x := &exchange{w: w, r: r, start: e.now()}
	x.call = Call{RawPath: rawRequestPath(r), Header: r.Header.Clone(), Time: x.start}
	w.Header().Set("X-Amzn-RequestId", newRequestID())

	err := e.serve(x)
	if err == nil {
		return
	}
	if x.started || r.Context().Err() != nil {
		// The client went away, or the answer had started when the stream broke:
		// nothing more can be said on this response.
		e.commit(x, 0, err) // status 0: no answer reached the client
		e.log.Debug("emulator: response abandoned", "operation", x.call.Operation, "err", err)
		return
	}
	var apiErr *apiError
	if !errors.As(err, &apiErr) {
		e.log.Error("emulator: internal error", "operation", x.call.Operation, "err", err)
		apiErr = newAPIError("InternalServerException", "")
	}
	e.commit(x, apiErr.status, apiErr)
	writeAPIError(w, apiErr)
}

// serve routes the request, reads and authenticates it, and hands it to its operation.
func (e *Emulator) serve(x *exchange) error {
	op, modelID, err := route(x.r.Method, x.call.RawPath)
	if err != nil {
		return err
	}
	x.call.Operation, x.call.ModelID = op.name, modelID
	if x.body, err = readBody(x.r); err != nil {
		return err
	}
	x.call.Body = bodyAsJSON(x.body)
	if err := e.authenticate(x); err != nil {
		return err
	}
	return op.serve(e, x)
}

// route finds the operation and model id in the escaped path. The model id is
// decoded from the escaped form because an ARN's "/" arrives as %2F, which
// would be indistinguishable from a path separator after decoding.
func route(method, rawPath string) (operation, string, error) {
	notFound := newAPIError("UnknownOperationException", "")
	if method == http.MethodPost && rawPath == rerankPath {
		return operation{name: "Rerank", serve: (*Emulator).serveRerank}, "", nil
	}
	if method != http.MethodPost || !strings.HasPrefix(rawPath, modelPathPrefix) {
		return operation{}, "", notFound
	}
	for _, op := range operations {
		escaped, ok := strings.CutSuffix(rawPath[len(modelPathPrefix):], op.suffix)
		if !ok || escaped == "" {
			continue
		}
		modelID, err := url.PathUnescape(escaped)
		if err != nil {
			return operation{}, "", validationError("The provided model identifier is invalid.")
		}
		return op, modelID, nil
	}
	return operation{}, "", notFound
}

// rawRequestPath is the path exactly as the client sent it, which is what it signed.
func rawRequestPath(r *http.Request) string {
	uri := r.RequestURI
	if uri == "" || !strings.HasPrefix(uri, "/") {
		// Built in-process, or in absolute form: fall back on the parsed URL.
		return r.URL.EscapedPath()
	}
	path, _, _ := strings.Cut(uri, "?")
	return path
}

func readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("emulator: read request body: %w", err)
	}
	if len(body) > maxBodyBytes {
		return nil, validationError("Request body is too large.")
	}
	return body, nil
}

// bodyAsJSON keeps the body as JSON for Call, quoting it when it is not JSON so a
// recorded malformed request still marshals.
func bodyAsJSON(body []byte) json.RawMessage {
	if len(body) == 0 {
		return nil
	}
	if json.Valid(body) {
		return json.RawMessage(body)
	}
	quoted, _ := json.Marshal(string(body))
	return quoted
}

// commit records the call once its outcome is known, before any delay, so a test
// can see a call that is still being answered.
func (e *Emulator) commit(x *exchange, status int, err error) {
	if x.committed {
		return
	}
	x.committed = true
	x.call.Status = status
	if err != nil {
		x.call.Error = err.Error()
	}
	e.mu.Lock()
	e.calls = append(e.calls, x.call)
	e.mu.Unlock()
	e.log.Info("emulator: call", "operation", x.call.Operation, "model", x.call.ModelID,
		"status", status, "fault", x.call.Fault, "error", x.call.Error)
}

// sleep waits d or until ctx ends, reporting ctx's error in the latter case.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// newRequestID returns a random UUID, the form of Bedrock's x-amzn-RequestId.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
