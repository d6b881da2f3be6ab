package bedrock

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// signingName is the SigV4 service name of the Bedrock runtime.
const signingName = "bedrock"

// ClientOptions configures a Client. Build one Client per deployment at
// startup: it holds the credentials cache and the signer.
type ClientOptions struct {
	Region   string
	Endpoint string // default https://bedrock-runtime.<region>.amazonaws.com
	// AgentEndpoint is where Rerank calls go; default: Endpoint with
	// bedrock-runtime in its host changed to bedrock-agent-runtime.
	AgentEndpoint string
	Credentials   aws.CredentialsProvider
	// APIKey, if set, is a Bedrock API key sent as "Authorization: Bearer"
	// on every call instead of a SigV4 signature; Credentials is then unused.
	APIKey     string
	HTTPClient *http.Client // share one across deployments; default: a new pool (see NewTransport)
	Now        func() time.Time
}

// Client calls the Bedrock runtime API for one deployment.
type Client struct {
	endpoint string
	// agentEndpoint is the Bedrock agent runtime's base URL, for Rerank.
	agentEndpoint string
	region        string
	creds         aws.CredentialsProvider // nil when apiKey is set
	apiKey        *apiKey                 // nil when signing with creds
	signer        *v4.Signer
	http          *http.Client
	// transport is http's, called directly when the client adds nothing
	// to it (no timeout, cookie jar or redirect policy): Client.Do would
	// copy every call's headers for redirects Bedrock never sends.
	transport http.RoundTripper
	now       func() time.Time
	answers   sync.Pool // *bytes.Buffer for Converse answers
	urls      sync.Map  // callKey -> *url.URL, parsed once
}

// NewClient checks the options and builds a client.
func NewClient(opts ClientOptions) (*Client, error) {
	if opts.Region == "" {
		return nil, errors.New("no AWS region: set aws_region_name, AWS_REGION or a profile region")
	}
	if opts.Credentials == nil && opts.APIKey == "" {
		return nil, errors.New("no AWS credentials provider and no Bedrock API key")
	}
	endpoint := opts.Endpoint
	if endpoint == "" {
		endpoint = "https://bedrock-runtime." + opts.Region + ".amazonaws.com"
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("bedrock runtime endpoint %q is not an http(s) URL", endpoint)
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: NewTransport()}
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	creds := opts.Credentials
	switch creds.(type) {
	case nil:
	case *aws.CredentialsCache, *refreshingCredentials: // caches already
	default:
		creds = aws.NewCredentialsCache(creds)
	}
	var key *apiKey
	if opts.APIKey != "" {
		creds, key = nil, &apiKey{opts.APIKey}
	}
	endpoint = strings.TrimRight(endpoint, "/")
	agent := strings.TrimRight(opts.AgentEndpoint, "/")
	if agent == "" {
		agent = agentEndpointFor(endpoint)
	} else if u, err := url.Parse(agent); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("bedrock agent runtime endpoint %q is not an http(s) URL", opts.AgentEndpoint)
	}
	return &Client{
		endpoint:      endpoint,
		agentEndpoint: agent,
		region:        opts.Region,
		creds:         creds,
		apiKey:        key,
		signer:        v4.NewSigner(), // caches the derived signing key per day, region and service
		http:          hc,
		transport:     bareTransport(hc),
		now:           now,
	}, nil
}

// Region is the region the client signs for.
func (c *Client) Region() string { return c.region }

// UsesAPIKey reports whether the client authenticates with a Bedrock API
// key rather than SigV4.
func (c *Client) UsesAPIKey() bool { return c.apiKey != nil }

// Endpoint is the base URL the client calls.
func (c *Client) Endpoint() string { return c.endpoint }

// NewTransport returns an HTTP transport sized for a gateway: many
// concurrent calls to few hosts, kept alive, HTTP/2 where offered.
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   512,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// escapePath escapes a model id for a URL path segment the way the AWS SDKs
// do: everything but unreserved characters, so ":" and an ARN's "/" are
// percent-encoded.
func escapePath(s string) string {
	const hexDigits = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)+8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
	}
	return string(b)
}

// do signs and sends one call to /model/{modelID}/{operation}. A non-2xx
// answer comes back as *APIError; the caller owns the body of a 2xx.
func (c *Client) do(ctx context.Context, modelID, operation, accept string, body []byte) (*http.Response, error) {
	return c.doWith(ctx, modelID, operation, accept, body, nil)
}

// doWith is do with extra request headers, which are signed with the rest.
func (c *Client) doWith(ctx context.Context, modelID, operation, accept string, body []byte, header http.Header) (*http.Response, error) {
	u, err := c.callURL(modelID, operation)
	if err != nil {
		return nil, err
	}
	return c.send(ctx, u, accept, body, header)
}

// send signs and sends one POST to u. A non-2xx answer comes back as
// *APIError; the caller owns the body of a 2xx.
func (c *Client) send(ctx context.Context, u url.URL, accept string, body []byte, header http.Header) (*http.Response, error) {
	req, err := c.signedRequest(ctx, u, accept, body, header)
	if err != nil {
		return nil, err
	}
	resp, err := c.roundTrip(req)
	if err != nil {
		return nil, &TransportError{Err: err}
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, apiErrorFromResponse(resp)
	}
	return resp, nil
}

// roundTrip sends req as http.Client.Do would, through its transport alone
// when the client adds nothing to it.
func (c *Client) roundTrip(req *http.Request) (*http.Response, error) {
	if c.transport == nil {
		return c.http.Do(req)
	}
	return c.transport.RoundTrip(req)
}

// bareTransport is hc's transport when hc only passes calls to it, else nil.
func bareTransport(hc *http.Client) http.RoundTripper {
	if hc.Timeout != 0 || hc.Jar != nil || hc.CheckRedirect != nil {
		return nil
	}
	if hc.Transport == nil {
		return http.DefaultTransport
	}
	return hc.Transport
}

// signedRequest builds a POST to u and signs it with SigV4, the body
// hashed once.
func (c *Client) signedRequest(ctx context.Context, u url.URL, accept string, body []byte, header http.Header) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("bedrock: build request: %w", err)
	}
	req.URL, req.Host = &u, u.Host
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", accept)
	if err := c.authorize(ctx, req, body); err != nil {
		return nil, err
	}
	return req, nil
}

// authorize adds the deployment's credential to req: its Bedrock API key
// as a bearer token, or else a SigV4 signature over the body.
func (c *Client) authorize(ctx context.Context, req *http.Request, body []byte) error {
	if c.apiKey != nil {
		req.Header.Set("Authorization", "Bearer "+c.apiKey.key)
		return nil
	}
	creds, err := c.creds.Retrieve(ctx)
	if err != nil {
		return &CredentialsError{Err: err}
	}
	sum := sha256.Sum256(body)
	if err := c.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), signingName, c.region, c.now()); err != nil {
		return fmt.Errorf("bedrock: sign request: %w", err)
	}
	return nil
}

// apiKey is a Bedrock API key, behind a pointer so that printing a Client
// shows an address, and printing the key itself shows no secret.
type apiKey struct{ key string }

func (*apiKey) String() string   { return "[Bedrock API key]" }
func (*apiKey) GoString() string { return "[Bedrock API key]" }

// callURL is the URL of an operation on a model. A client calls few
// models, so each URL is parsed once and copied for every call.
func (c *Client) callURL(modelID, operation string) (url.URL, error) {
	key := callKey{modelID, operation}
	if u, ok := c.urls.Load(key); ok {
		return *u.(*url.URL), nil
	}
	u, err := url.Parse(c.endpoint + "/model/" + escapePath(modelID) + "/" + operation)
	if err != nil {
		return url.URL{}, fmt.Errorf("bedrock: build request: %w", err)
	}
	c.urls.Store(key, u)
	return *u, nil
}

type callKey struct{ modelID, operation string }

// CredentialsError means the deployment's AWS credentials could not be
// obtained (a profile that does not exist, a role that cannot be assumed).
type CredentialsError struct{ Err error }

func (e *CredentialsError) Error() string { return "bedrock: get AWS credentials: " + e.Err.Error() }
func (e *CredentialsError) Unwrap() error { return e.Err }

// TransportError means Bedrock could not be reached or the connection
// failed before an answer; such a call may succeed when tried again.
type TransportError struct{ Err error }

func (e *TransportError) Error() string { return "bedrock: " + e.Err.Error() }
func (e *TransportError) Unwrap() error { return e.Err }

func apiErrorFromResponse(resp *http.Response) *APIError {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var body struct {
		Message  string `json:"message"`
		Message2 string `json:"Message"`
		Type     string `json:"__type"`
	}
	_ = json.Unmarshal(raw, &body)
	e := &APIError{Status: resp.StatusCode, Message: body.Message}
	if e.Message == "" {
		e.Message = body.Message2
	}
	if e.Message == "" && !json.Valid(raw) {
		e.Message = strings.TrimSpace(string(raw))
	}
	switch {
	case resp.Header.Get("X-Amzn-ErrorType") != "":
		e.Code = ExceptionName(resp.Header.Get("X-Amzn-ErrorType"))
	case body.Type != "":
		e.Code = ExceptionName(body.Type)
	default:
		e.Code = http.StatusText(resp.StatusCode)
	}
	return e
}

// Converse calls the Converse API.
func (c *Client) Converse(ctx context.Context, modelID string, in *ConverseRequest) (*ConverseResponse, error) {
	body, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("bedrock: encode converse request: %w", err)
	}
	resp, err := c.do(ctx, modelID, "converse", "application/json", body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	// Reading the answer whole and decoding it in one pass costs a third
	// less than a json.Decoder on the body, and the buffer is reused.
	buf := c.answerBuffer()
	defer c.releaseAnswerBuffer(buf)
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return nil, &TransportError{Err: fmt.Errorf("read converse response: %w", err)}
	}
	var out ConverseResponse
	if err := json.Unmarshal(buf.Bytes(), &out); err != nil {
		return nil, &TransportError{Err: fmt.Errorf("decode converse response: %w", err)}
	}
	return &out, nil
}

// answerBuffer returns an empty buffer for a Converse answer. Decoding
// copies what it keeps, so the buffer goes back to the pool afterwards.
func (c *Client) answerBuffer() *bytes.Buffer {
	if b, ok := c.answers.Get().(*bytes.Buffer); ok {
		return b
	}
	return bytes.NewBuffer(make([]byte, 0, 4096))
}

func (c *Client) releaseAnswerBuffer(b *bytes.Buffer) {
	if b.Cap() > maxPooledAnswer {
		return // an unusually long answer: let its buffer go
	}
	b.Reset()
	c.answers.Put(b)
}

const maxPooledAnswer = 1 << 20

// ConverseStream calls the ConverseStream API. Errors Bedrock reports
// before the stream starts come back here; later ones from Stream.Next.
func (c *Client) ConverseStream(ctx context.Context, modelID string, in *ConverseRequest) (*Stream, error) {
	body, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("bedrock: encode converse request: %w", err)
	}
	resp, err := c.do(ctx, modelID, "converse-stream", "application/vnd.amazon.eventstream", body)
	if err != nil {
		return nil, err
	}
	return newStream(resp.Body), nil
}
