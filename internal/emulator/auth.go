package emulator

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

const (
	sigV4Algorithm  = "AWS4-HMAC-SHA256"
	signingService  = "bedrock"
	amzDateFormat   = "20060102T150405Z"
	maxClockSkew    = 5 * time.Minute
	scopeTerminator = "aws4_request"
)

// sigV4Auth is a parsed "Authorization: AWS4-HMAC-SHA256 ..." header.
type sigV4Auth struct {
	accessKeyID   string
	date          string // yyyymmdd from the credential scope
	region        string
	service       string
	terminator    string
	signedHeaders []string // lower case, as listed
	signature     string
}

// authenticate checks the request's SigV4 signature the way AWS does, in AWS's
// order: a known key first, then the scope, the time, and finally the signature.
func (e *Emulator) authenticate(x *exchange) error {
	if token, ok := bearerToken(x.r.Header.Get("Authorization")); ok {
		x.call.AuthScheme = "bearer"
		if e.opts.SkipAuth {
			return nil
		}
		return e.checkAPIKey(token)
	}
	auth, parseErr := parseSigV4Auth(x.r.Header.Get("Authorization"))
	if parseErr == nil {
		x.call.AuthScheme = "sigv4"
	}
	if parseErr == nil {
		x.call.AccessKeyID, x.call.Region = auth.accessKeyID, auth.region
	}
	if e.opts.SkipAuth {
		return nil
	}
	if parseErr != nil {
		return parseErr
	}
	key, err := e.bedrockKey(auth.accessKeyID)
	if err != nil {
		return err
	}
	token := x.r.Header.Get("X-Amz-Security-Token")
	if key.SessionToken != "" && subtle.ConstantTimeCompare([]byte(token), []byte(key.SessionToken)) != 1 {
		return newAPIError("UnrecognizedClientException", "")
	}
	if err := e.checkScope(auth); err != nil {
		return err
	}
	signedAt, err := e.checkSigningTime(x.r, auth)
	if err != nil {
		return err
	}
	want, err := e.expectedSignature(x, auth, key, signedAt)
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare([]byte(want), []byte(auth.signature)) != 1 {
		return newAPIError("InvalidSignatureException", msgSignatureMismatch)
	}
	return nil
}

// msgBadAPIKey is Bedrock's answer to a bearer token that is not one of the
// account's API keys.
const msgBadAPIKey = "Authentication failed: Please make sure your API Key is valid."

// bearerToken reads "Authorization: Bearer <token>", the way Bedrock API
// keys are sent.
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// checkAPIKey accepts a bearer token only when it is one of the API keys
// the emulator was given, compared in constant time.
func (e *Emulator) checkAPIKey(token string) error {
	ok := 0
	for _, k := range e.opts.APIKeys {
		ok |= subtle.ConstantTimeCompare([]byte(token), []byte(k))
	}
	if ok != 1 || token == "" {
		return newAPIError("AccessDeniedException", msgBadAPIKey)
	}
	return nil
}

// parseSigV4Auth splits the Authorization header into its parts. AWS answers a
// missing header and a malformed one differently, so this does too.
func parseSigV4Auth(header string) (sigV4Auth, error) {
	if header == "" {
		return sigV4Auth{}, newAPIError("MissingAuthenticationTokenException", "")
	}
	algorithm, params, _ := strings.Cut(header, " ")
	if algorithm != sigV4Algorithm {
		return sigV4Auth{}, newAPIError("IncompleteSignatureException",
			fmt.Sprintf("Authorization header requires existence of the %s algorithm. Authorization=%s", sigV4Algorithm, algorithm))
	}
	var auth sigV4Auth
	var credential, signedHeaders string
	for part := range strings.SplitSeq(params, ",") {
		name, value, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch name {
		case "Credential":
			credential = value
		case "SignedHeaders":
			signedHeaders = value
		case "Signature":
			auth.signature = value
		}
	}
	scope := strings.Split(credential, "/")
	if len(scope) != 5 || signedHeaders == "" || auth.signature == "" {
		return sigV4Auth{}, newAPIError("IncompleteSignatureException",
			"Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters. Authorization="+header)
	}
	auth.accessKeyID, auth.date, auth.region, auth.service, auth.terminator = scope[0], scope[1], scope[2], scope[3], scope[4]
	auth.signedHeaders = strings.Split(signedHeaders, ";")
	return auth, nil
}

// checkScope checks the credential scope, with AWS's messages.
func (e *Emulator) checkScope(auth sigV4Auth) error {
	switch {
	case auth.terminator != scopeTerminator:
		return newAPIError("InvalidSignatureException",
			fmt.Sprintf("Credential should be scoped with a valid terminator: '%s', not '%s'.", scopeTerminator, auth.terminator))
	case auth.service != signingService:
		return newAPIError("InvalidSignatureException",
			fmt.Sprintf("Credential should be scoped to correct service: '%s'. ", signingService))
	case e.opts.Region != "" && auth.region != e.opts.Region:
		return newAPIError("InvalidSignatureException",
			fmt.Sprintf("Credential should be scoped to a valid region, not '%s'. ", auth.region))
	case !slices.Contains(auth.signedHeaders, "host"):
		return newAPIError("IncompleteSignatureException",
			"'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
	}
	return nil
}

// checkSigningTime reads X-Amz-Date and rejects requests signed too far from now,
// which is what stops a captured request from being replayed later.
func (e *Emulator) checkSigningTime(r *http.Request, auth sigV4Auth) (time.Time, error) {
	raw := r.Header.Get("X-Amz-Date")
	signedAt, err := time.Parse(amzDateFormat, raw)
	if err != nil {
		return time.Time{}, newAPIError("IncompleteSignatureException",
			"Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	if day := signedAt.Format("20060102"); day != auth.date {
		return time.Time{}, newAPIError("InvalidSignatureException", fmt.Sprintf(
			"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.",
			auth.date, day, raw))
	}
	now := e.now().UTC()
	if earliest := now.Add(-maxClockSkew); signedAt.Before(earliest) {
		return time.Time{}, newAPIError("InvalidSignatureException", fmt.Sprintf(
			"Signature expired: %s is now earlier than %s (%s - 5 min.)",
			raw, earliest.Format(amzDateFormat), now.Format(amzDateFormat)))
	}
	if latest := now.Add(maxClockSkew); signedAt.After(latest) {
		return time.Time{}, newAPIError("InvalidSignatureException", fmt.Sprintf(
			"Signature not yet current: %s is still later than %s (%s + 5 min.)",
			raw, latest.Format(amzDateFormat), now.Format(amzDateFormat)))
	}
	return signedAt, nil
}

// expectedSignature re-signs a copy of the request holding exactly the headers the
// client signed, with the SDK's own signer, and returns the signature it computes.
func (e *Emulator) expectedSignature(x *exchange, auth sigV4Auth, key Key, signedAt time.Time) (string, error) {
	r := x.r
	creds := aws.Credentials{AccessKeyID: auth.accessKeyID, SecretAccessKey: key.Secret}
	header := http.Header{}
	var contentLength int64
	for _, name := range auth.signedHeaders {
		switch name {
		case "host": // the signer takes it from Request.Host
		case "content-length": // the signer takes it from Request.ContentLength
			contentLength = int64(len(x.body))
		case "x-amz-security-token": // the signer sets it from the credentials
			creds.SessionToken = r.Header.Get("X-Amz-Security-Token")
		default:
			canonical := textproto.CanonicalMIMEHeaderKey(name)
			if values, ok := r.Header[canonical]; ok {
				header[canonical] = values
			}
		}
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	resigned := &http.Request{
		Method: r.Method,
		// Opaque carries the path exactly as it arrived; the signer then escapes it
		// once more, as the client's signer did with the path it sent.
		URL:           &url.URL{Scheme: scheme, Host: r.Host, Opaque: "//" + r.Host + x.call.RawPath, RawQuery: r.URL.RawQuery},
		Host:          r.Host,
		Header:        header,
		ContentLength: contentLength,
	}
	payloadHash := sha256.Sum256(x.body)
	err := e.signer.SignHTTP(r.Context(), creds, resigned, hex.EncodeToString(payloadHash[:]),
		auth.service, auth.region, signedAt)
	if err != nil {
		return "", fmt.Errorf("emulator: re-sign request: %w", err)
	}
	_, signature, _ := strings.Cut(resigned.Header.Get("Authorization"), "Signature=")
	return signature, nil
}
