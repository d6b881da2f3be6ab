package emulator

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The STS endpoint: POST / with a form body (the AWS query protocol), answered
// in STS's XML. It issues temporary credentials that the Bedrock routes then
// accept, so a gateway can be tested through AssumeRole and
// AssumeRoleWithWebIdentity end to end, with the real SDKs on both sides.

// STSOptions configures the STS endpoint.
type STSOptions struct {
	// CredentialTTL is how long issued credentials last. Zero means the
	// DurationSeconds the caller asked for, or an hour, as on AWS.
	CredentialTTL time.Duration
	// Roles lists the roles that exist, by ARN. Nil lets any well-formed
	// role ARN be assumed.
	Roles map[string]Role
	// WebIdentityTokens are the tokens AssumeRoleWithWebIdentity accepts; any
	// other fails with InvalidIdentityToken, as a token minted for another
	// audience does.
	WebIdentityTokens []string
}

// Role is one assumable role.
type Role struct {
	// ExternalID, if set, must be sent with AssumeRole; a missing or different
	// one is AccessDenied, as on AWS.
	ExternalID string
}

// STSCall is one request the STS endpoint received.
type STSCall struct {
	Action          string    `json:"action"`
	RoleARN         string    `json:"role_arn,omitempty"`
	RoleSessionName string    `json:"role_session_name,omitempty"`
	ExternalID      string    `json:"external_id,omitempty"`
	AccessKeyID     string    `json:"access_key_id,omitempty"` // who signed; empty for unsigned calls
	Region          string    `json:"region,omitempty"`        // the signature's scope
	Time            time.Time `json:"time"`
	Status          int       `json:"status"`
	Error           string    `json:"error,omitempty"`  // "Code: message" when rejected
	Issued          string    `json:"issued,omitempty"` // access key id of the credentials issued
}

const (
	stsNamespace     = "https://sts.amazonaws.com/doc/2011-06-15/"
	stsVersion       = "2011-06-15"
	stsSigningName   = "sts"
	defaultAccountID = "123456789012"
	defaultRoleTTL   = time.Hour
)

// stsState is what the STS endpoint remembers: the credentials it issued,
// the calls it got and the failures queued for the next calls.
type stsState struct {
	mu       sync.Mutex
	issued   map[string]issuedKey // by access key id
	calls    []STSCall
	failures []*stsError
}

// issuedKey is a set of temporary credentials and whose they are.
type issuedKey struct {
	Key
	accessKeyID string
	expires     time.Time
	arn         string // arn:aws:sts::<account>:assumed-role/<role>/<session>
	userID      string // AROA...:<session>
}

func (s *stsState) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls, s.failures = nil, nil
}

// STSCalls returns a copy of every STS call received so far, in order.
func (e *Emulator) STSCalls() []STSCall {
	e.sts.mu.Lock()
	defer e.sts.mu.Unlock()
	return slices.Clone(e.sts.calls)
}

// FailSTS makes the next n STS calls fail with the named STS error code, e.g.
// "AccessDenied" or "Throttling", and message ("" for STS's usual one).
func (e *Emulator) FailSTS(n int, code, message string) {
	e.sts.mu.Lock()
	defer e.sts.mu.Unlock()
	for range n {
		e.sts.failures = append(e.sts.failures, newSTSError(code, message))
	}
}

// isSTSRequest tells STS calls from Bedrock ones: Bedrock's routes all live
// under /model/, STS answers at the root.
func isSTSRequest(r *http.Request) bool { return r.URL.Path == "/" }

// stsError is an error the STS endpoint answers with.
type stsError struct {
	code    string
	status  int
	message string
}

func (e *stsError) Error() string { return e.code + ": " + e.message }

// stsErrors holds the status and usual message of the STS errors the
// emulator raises; codes and statuses follow the API model and what STS's
// front door answers for signature problems.
var stsErrors = map[string]struct {
	status  int
	message string
}{
	"AccessDenied":               {http.StatusForbidden, "Access denied"},
	"ExpiredToken":               {http.StatusForbidden, "The security token included in the request is expired"},
	"IncompleteSignature":        {http.StatusBadRequest, "The request signature is incomplete."},
	"InvalidAction":              {http.StatusBadRequest, "Could not find operation for version " + stsVersion},
	"InvalidClientTokenId":       {http.StatusForbidden, "The security token included in the request is invalid."},
	"InvalidIdentityToken":       {http.StatusBadRequest, "Incorrect token audience"},
	"IDPRejectedClaim":           {http.StatusForbidden, "Token rejected by the identity provider"},
	"MissingAuthenticationToken": {http.StatusForbidden, "Request is missing Authentication Token"},
	"RegionDisabledException":    {http.StatusForbidden, "STS is not activated in this region for this account."},
	"ServiceUnavailable":         {http.StatusServiceUnavailable, "Service is unavailable. Please try again later."},
	"SignatureDoesNotMatch":      {http.StatusForbidden, msgSignatureMismatch},
	"Throttling":                 {http.StatusBadRequest, "Rate exceeded"},
	"ValidationError":            {http.StatusBadRequest, "1 validation error detected"},
}

func newSTSError(code, message string) *stsError {
	known, ok := stsErrors[code]
	if !ok {
		known.status, known.message = http.StatusBadRequest, "An error occurred ("+code+")."
	}
	if message == "" {
		message = known.message
	}
	return &stsError{code: code, status: known.status, message: message}
}

// stsAuthErrors renames the Bedrock front door's signature errors, which the
// shared SigV4 checks return, to what STS calls the same problems.
var stsAuthErrors = map[string]string{
	"MissingAuthenticationTokenException": "MissingAuthenticationToken",
	"IncompleteSignatureException":        "IncompleteSignature",
	"InvalidSignatureException":           "SignatureDoesNotMatch",
	"UnrecognizedClientException":         "InvalidClientTokenId",
}

// stsExchange is one STS request being served.
type stsExchange struct {
	*exchange
	params url.Values
	record *STSCall
}

// serveSTS answers one STS call and records it.
func (e *Emulator) serveSTS(w http.ResponseWriter, r *http.Request) {
	x := &stsExchange{exchange: &exchange{w: w, r: r, start: e.now()}, record: &STSCall{Time: e.now()}}
	x.call = Call{RawPath: rawRequestPath(r), Header: r.Header.Clone(), Time: x.start}
	requestID := newRequestID()
	w.Header().Set("X-Amzn-RequestId", requestID)

	result, err := e.stsAction(x)
	if err != nil {
		se, ok := err.(*stsError)
		if !ok {
			e.log.Error("emulator: sts internal error", "action", x.record.Action, "err", err)
			se = &stsError{code: "InternalFailure", status: http.StatusInternalServerError, message: "An internal error occurred."}
		}
		x.record.Status, x.record.Error = se.status, se.Error()
		e.recordSTS(*x.record)
		writeSTSError(w, se, requestID)
		return
	}
	x.record.Status = http.StatusOK
	e.recordSTS(*x.record)
	writeSTSXML(w, http.StatusOK, stsResponse{
		XMLName:   xml.Name{Local: x.record.Action + "Response"},
		Xmlns:     stsNamespace,
		Result:    result,
		RequestID: requestID,
	})
}

func (e *Emulator) recordSTS(c STSCall) {
	e.sts.mu.Lock()
	e.sts.calls = append(e.sts.calls, c)
	e.sts.mu.Unlock()
	e.log.Info("emulator: sts call", "action", c.Action, "role", c.RoleARN, "status", c.Status, "error", c.Error)
}

// stsAction parses the form, applies a queued failure, and runs the action.
func (e *Emulator) stsAction(x *stsExchange) (any, error) {
	if x.r.Method != http.MethodPost {
		return nil, newSTSError("InvalidAction", "The emulator's STS takes POST with a form body, as the AWS SDKs send.")
	}
	var err error
	if x.body, err = readBody(x.r); err != nil {
		return nil, err
	}
	if x.params, err = url.ParseQuery(string(x.body)); err != nil {
		return nil, newSTSError("ValidationError", "The request body is not a valid form: "+err.Error())
	}
	action := x.params.Get("Action")
	x.record.Action = action
	x.record.RoleARN, x.record.RoleSessionName = x.params.Get("RoleArn"), x.params.Get("RoleSessionName")
	x.record.ExternalID = x.params.Get("ExternalId")
	if v := x.params.Get("Version"); v != stsVersion {
		return nil, newSTSError("InvalidAction", fmt.Sprintf("Could not find operation %s for version %s", action, v))
	}
	if fail := e.nextSTSFailure(); fail != nil {
		return nil, fail
	}
	switch action {
	case "AssumeRole":
		return e.assumeRole(x)
	case "AssumeRoleWithWebIdentity":
		return e.assumeRoleWithWebIdentity(x)
	case "GetCallerIdentity":
		return e.getCallerIdentity(x)
	}
	return nil, newSTSError("InvalidAction", fmt.Sprintf("Could not find operation %s for version %s", action, stsVersion))
}

func (e *Emulator) nextSTSFailure() *stsError {
	e.sts.mu.Lock()
	defer e.sts.mu.Unlock()
	if len(e.sts.failures) == 0 {
		return nil
	}
	f := e.sts.failures[0]
	e.sts.failures = e.sts.failures[1:]
	return f
}

// caller is who signed an STS call.
type caller struct {
	arn, userID, account string
}

func (e *Emulator) assumeRole(x *stsExchange) (any, error) {
	who, err := e.authenticateSTS(x)
	if err != nil {
		return nil, err
	}
	roleARN, session, err := roleParams(x.params)
	if err != nil {
		return nil, err
	}
	role, known := e.opts.STS.Roles[roleARN]
	denied := newSTSError("AccessDenied", fmt.Sprintf("User: %s is not authorized to perform: sts:AssumeRole on resource: %s", who.arn, roleARN))
	if e.opts.STS.Roles != nil && !known {
		return nil, denied
	}
	if subtle.ConstantTimeCompare([]byte(x.params.Get("ExternalId")), []byte(role.ExternalID)) != 1 {
		return nil, denied
	}
	ttl, err := e.sessionTTL(x.params)
	if err != nil {
		return nil, err
	}
	issued := e.issue(roleARN, session, ttl)
	x.record.Issued = issued.accessKeyID
	return assumeRoleResult{
		XMLName:         xml.Name{Local: "AssumeRoleResult"},
		Credentials:     credentialsXML(issued),
		AssumedRoleUser: assumedRoleUserXML{Arn: issued.arn, AssumedRoleID: issued.userID},
	}, nil
}

func (e *Emulator) assumeRoleWithWebIdentity(x *stsExchange) (any, error) {
	// AssumeRoleWithWebIdentity is unsigned: the token is the credential.
	roleARN, session, err := roleParams(x.params)
	if err != nil {
		return nil, err
	}
	token := x.params.Get("WebIdentityToken")
	if len(token) < 4 {
		return nil, newSTSError("ValidationError", "1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length greater than or equal to 4")
	}
	if !slices.ContainsFunc(e.opts.STS.WebIdentityTokens, func(t string) bool {
		return subtle.ConstantTimeCompare([]byte(t), []byte(token)) == 1
	}) {
		return nil, newSTSError("InvalidIdentityToken", "Incorrect token audience")
	}
	if _, known := e.opts.STS.Roles[roleARN]; e.opts.STS.Roles != nil && !known {
		return nil, newSTSError("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")
	}
	ttl, err := e.sessionTTL(x.params)
	if err != nil {
		return nil, err
	}
	issued := e.issue(roleARN, session, ttl)
	x.record.Issued = issued.accessKeyID
	return assumeRoleWithWebIdentityResult{
		XMLName:                     xml.Name{Local: "AssumeRoleWithWebIdentityResult"},
		Credentials:                 credentialsXML(issued),
		AssumedRoleUser:             assumedRoleUserXML{Arn: issued.arn, AssumedRoleID: issued.userID},
		SubjectFromWebIdentityToken: "system:serviceaccount:default:strata",
		Provider:                    "oidc.emulator.local",
		Audience:                    "sts.amazonaws.com",
	}, nil
}

func (e *Emulator) getCallerIdentity(x *stsExchange) (any, error) {
	who, err := e.authenticateSTS(x)
	if err != nil {
		return nil, err
	}
	return getCallerIdentityResult{
		XMLName: xml.Name{Local: "GetCallerIdentityResult"},
		Arn:     who.arn, UserID: who.userID, Account: who.account,
	}, nil
}

// sessionNamePattern and roleARNPattern are the API model's constraints.
var (
	sessionNamePattern = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
	roleARNPattern     = regexp.MustCompile(`^arn:aws[a-z-]*:iam::(\d{12}):role/(?:[\w+=,.@-]+/)*([\w+=,.@-]{1,64})$`)
)

// roleParams reads and checks RoleArn and RoleSessionName.
func roleParams(p url.Values) (roleARN, session string, err error) {
	roleARN, session = p.Get("RoleArn"), p.Get("RoleSessionName")
	if !roleARNPattern.MatchString(roleARN) {
		return "", "", newSTSError("ValidationError", fmt.Sprintf("%s is invalid", roleARN))
	}
	if !sessionNamePattern.MatchString(session) {
		return "", "", newSTSError("ValidationError", fmt.Sprintf(
			"1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*", session))
	}
	return roleARN, session, nil
}

// sessionTTL is how long the credentials to issue last.
func (e *Emulator) sessionTTL(p url.Values) (time.Duration, error) {
	if e.opts.STS.CredentialTTL > 0 {
		return e.opts.STS.CredentialTTL, nil
	}
	raw := p.Get("DurationSeconds")
	if raw == "" {
		return defaultRoleTTL, nil
	}
	seconds, err := strconv.Atoi(raw)
	if err != nil || seconds < 900 || seconds > 43200 {
		return 0, newSTSError("ValidationError", fmt.Sprintf(
			"1 validation error detected: Value '%s' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200", raw))
	}
	return time.Duration(seconds) * time.Second, nil
}

// issue mints temporary credentials for a role session and remembers them.
// Expiry is kept to the second, as STS reports it, so what the client reads
// is exactly when the emulator stops accepting them.
func (e *Emulator) issue(roleARN, session string, ttl time.Duration) issuedKey {
	m := roleARNPattern.FindStringSubmatch(roleARN)
	account, roleName := m[1], m[2]
	roleID := "AROA" + randomKeyChars(17)
	k := issuedKey{
		Key: Key{
			Secret:       randomBase64(30),
			SessionToken: "FwoGZXIvYXdzE" + randomBase64(180),
		},
		accessKeyID: "ASIA" + randomKeyChars(16),
		expires:     e.now().Add(ttl).UTC().Truncate(time.Second),
		arn:         fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/%s", account, roleName, session),
		userID:      roleID + ":" + session,
	}
	e.sts.mu.Lock()
	defer e.sts.mu.Unlock()
	if e.sts.issued == nil {
		e.sts.issued = make(map[string]issuedKey)
	}
	now := e.now()
	for id, old := range e.sts.issued {
		if now.After(old.expires.Add(time.Hour)) {
			delete(e.sts.issued, id) // long dead: keep the map from growing in a long demo
		}
	}
	e.sts.issued[k.accessKeyID] = k
	return k
}

// keyStatus is what the emulator knows of an access key id.
type keyStatus int

const (
	keyUnknown keyStatus = iota
	keyValid
	keyExpired
)

// lookupKey finds a static key or issued temporary credentials.
func (e *Emulator) lookupKey(accessKeyID string) (Key, caller, keyStatus) {
	if k, ok := e.opts.Keys[accessKeyID]; ok {
		return k, caller{
			arn:     "arn:aws:iam::" + defaultAccountID + ":user/emulator",
			userID:  "AIDA" + strings.TrimPrefix(strings.TrimPrefix(accessKeyID, "AKIA"), "ASIA"),
			account: defaultAccountID,
		}, keyValid
	}
	e.sts.mu.Lock()
	k, ok := e.sts.issued[accessKeyID]
	e.sts.mu.Unlock()
	if !ok {
		return Key{}, caller{}, keyUnknown
	}
	account := strings.Split(k.arn, ":")[4]
	who := caller{arn: k.arn, userID: k.userID, account: account}
	if !e.now().Before(k.expires) {
		return k.Key, who, keyExpired
	}
	return k.Key, who, keyValid
}

// bedrockKey is the key a Bedrock call is signed with, or Bedrock's answer
// for an unknown or expired one.
func (e *Emulator) bedrockKey(accessKeyID string) (Key, error) {
	k, _, status := e.lookupKey(accessKeyID)
	switch status {
	case keyUnknown:
		return Key{}, newAPIError("UnrecognizedClientException", "")
	case keyExpired:
		return Key{}, &apiError{name: "ExpiredTokenException", status: http.StatusForbidden,
			message: "The security token included in the request is expired"}
	}
	return k, nil
}

// authenticateSTS checks a signed STS call as STS does: a known, unexpired
// key with its session token, a scope for service "sts" in the emulator's
// region, and the signature itself.
func (e *Emulator) authenticateSTS(x *stsExchange) (caller, error) {
	auth, err := parseSigV4Auth(x.r.Header.Get("Authorization"))
	if err != nil {
		return caller{}, asSTSAuthError(err)
	}
	x.record.AccessKeyID, x.record.Region = auth.accessKeyID, auth.region
	key, who, status := e.lookupKey(auth.accessKeyID)
	switch status {
	case keyUnknown:
		return caller{}, newSTSError("InvalidClientTokenId", "")
	case keyExpired:
		return caller{}, newSTSError("ExpiredToken", "")
	}
	token := x.r.Header.Get("X-Amz-Security-Token")
	if key.SessionToken != "" && subtle.ConstantTimeCompare([]byte(token), []byte(key.SessionToken)) != 1 {
		return caller{}, newSTSError("InvalidClientTokenId", "")
	}
	switch {
	case auth.terminator != scopeTerminator:
		return caller{}, newSTSError("SignatureDoesNotMatch", fmt.Sprintf("Credential should be scoped with a valid terminator: '%s', not '%s'.", scopeTerminator, auth.terminator))
	case auth.service != stsSigningName:
		return caller{}, newSTSError("SignatureDoesNotMatch", fmt.Sprintf("Credential should be scoped to correct service: '%s'. ", stsSigningName))
	case e.opts.Region != "" && auth.region != e.opts.Region:
		return caller{}, newSTSError("SignatureDoesNotMatch", fmt.Sprintf("Credential should be scoped to a valid region, not '%s'. ", auth.region))
	}
	signedAt, err := e.checkSigningTime(x.r, auth)
	if err != nil {
		return caller{}, asSTSAuthError(err)
	}
	want, err := e.expectedSignature(x.exchange, auth, key, signedAt)
	if err != nil {
		return caller{}, err
	}
	if subtle.ConstantTimeCompare([]byte(want), []byte(auth.signature)) != 1 {
		return caller{}, newSTSError("SignatureDoesNotMatch", "")
	}
	return who, nil
}

func asSTSAuthError(err error) error {
	ae, ok := err.(*apiError)
	if !ok {
		return err
	}
	if code, ok := stsAuthErrors[ae.name]; ok {
		return newSTSError(code, ae.message)
	}
	return newSTSError(ae.name, ae.message)
}

// The XML shapes, as in STS's API model (botocore's sts service-2.json).

type stsResponse struct {
	XMLName   xml.Name
	Xmlns     string `xml:"xmlns,attr"`
	Result    any
	RequestID string `xml:"ResponseMetadata>RequestId"`
}

type credentialsElem struct {
	AccessKeyID     string `xml:"AccessKeyId"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	SessionToken    string `xml:"SessionToken"`
	Expiration      string `xml:"Expiration"`
}

type assumedRoleUserXML struct {
	Arn           string `xml:"Arn"`
	AssumedRoleID string `xml:"AssumedRoleId"`
}

type assumeRoleResult struct {
	XMLName         xml.Name
	Credentials     credentialsElem    `xml:"Credentials"`
	AssumedRoleUser assumedRoleUserXML `xml:"AssumedRoleUser"`
}

type assumeRoleWithWebIdentityResult struct {
	XMLName                     xml.Name
	Credentials                 credentialsElem    `xml:"Credentials"`
	SubjectFromWebIdentityToken string             `xml:"SubjectFromWebIdentityToken"`
	AssumedRoleUser             assumedRoleUserXML `xml:"AssumedRoleUser"`
	Provider                    string             `xml:"Provider"`
	Audience                    string             `xml:"Audience"`
}

type getCallerIdentityResult struct {
	XMLName xml.Name
	Arn     string `xml:"Arn"`
	UserID  string `xml:"UserId"`
	Account string `xml:"Account"`
}

type stsErrorResponse struct {
	XMLName xml.Name `xml:"ErrorResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Error   struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	} `xml:"Error"`
	RequestID string `xml:"RequestId"`
}

func credentialsXML(k issuedKey) credentialsElem {
	return credentialsElem{
		AccessKeyID:     k.accessKeyID,
		SecretAccessKey: k.Secret,
		SessionToken:    k.SessionToken,
		Expiration:      k.expires.Format(time.RFC3339),
	}
}

func writeSTSError(w http.ResponseWriter, se *stsError, requestID string) {
	var body stsErrorResponse
	body.Xmlns = stsNamespace
	body.Error.Type = "Sender"
	if se.status >= 500 {
		body.Error.Type = "Receiver"
	}
	body.Error.Code, body.Error.Message = se.code, se.message
	body.RequestID = requestID
	writeSTSXML(w, se.status, body)
}

func writeSTSXML(w http.ResponseWriter, status int, v any) {
	out, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, "emulator: encode STS answer: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	_, _ = w.Write(append([]byte(xml.Header), out...))
}

// randomKeyChars returns n characters of the alphabet AWS access key ids use.
func randomKeyChars(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func randomBase64(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}
