package translate

import (
	"github.com/strata-gateway/strata/internal/bedrock"
	"github.com/strata-gateway/strata/internal/openai"
)

// bedrockErrors maps Bedrock exception names to what OpenAI clients expect.
// An exception not listed keeps Bedrock's HTTP status.
var bedrockErrors = map[string]struct {
	status int
	typ    string
	code   string
}{
	"ValidationException":                 {400, openai.TypeInvalidRequest, "invalid_request"},
	"AccessDeniedException":               {403, openai.TypePermission, "access_denied"},
	"UnrecognizedClientException":         {401, openai.TypeAuthentication, "invalid_credentials"},
	"InvalidSignatureException":           {401, openai.TypeAuthentication, "invalid_credentials"},
	"ExpiredTokenException":               {401, openai.TypeAuthentication, "expired_credentials"},
	"MissingAuthenticationTokenException": {401, openai.TypeAuthentication, "missing_credentials"},
	"ResourceNotFoundException":           {404, openai.TypeNotFound, "model_not_found"},
	"ThrottlingException":                 {429, openai.TypeRateLimit, "rate_limit_exceeded"},
	"ServiceQuotaExceededException":       {429, openai.TypeRateLimit, "quota_exceeded"},
	"TooManyRequestsException":            {429, openai.TypeRateLimit, "rate_limit_exceeded"},
	"ModelTimeoutException":               {408, openai.TypeTimeout, "model_timeout"},
	"ModelNotReadyException":              {503, openai.TypeUnavailable, "model_not_ready"},
	"ServiceUnavailableException":         {503, openai.TypeUnavailable, "service_unavailable"},
	"InternalServerException":             {500, openai.TypeServer, "bedrock_internal_error"},
	"ModelErrorException":                 {424, openai.TypeAPI, "model_error"},
	"ModelStreamErrorException":           {424, openai.TypeAPI, "model_stream_error"},
	"ConflictException":                   {409, openai.TypeInvalidRequest, "conflict"},
	"ServiceUnavailable":                  {503, openai.TypeUnavailable, "service_unavailable"},
	"DependencyFailedException":           {424, openai.TypeAPI, "dependency_failed"},
	"BadGatewayException":                 {502, openai.TypeAPI, "bad_gateway"},

	// STS refusing the credentials a deployment assumes a role with.
	"SignatureDoesNotMatch":   {401, openai.TypeAuthentication, "invalid_credentials"},
	"InvalidClientTokenId":    {401, openai.TypeAuthentication, "invalid_credentials"},
	"ExpiredToken":            {401, openai.TypeAuthentication, "expired_credentials"},
	"InvalidIdentityToken":    {401, openai.TypeAuthentication, "invalid_credentials"},
	"IDPRejectedClaim":        {403, openai.TypePermission, "access_denied"},
	"AccessDenied":            {403, openai.TypePermission, "access_denied"},
	"RegionDisabledException": {403, openai.TypePermission, "access_denied"},
}

// ErrorFromBedrock turns a Bedrock exception into the error the client
// sees. Bedrock's own message is kept verbatim.
func ErrorFromBedrock(e *bedrock.APIError) *openai.Error {
	out := &openai.Error{Status: e.Status, Type: openai.TypeAPI, Code: e.Code, Message: e.Message, Err: e}
	if m, ok := bedrockErrors[e.Code]; ok {
		out.Status, out.Type, out.Code = m.status, m.typ, m.code
	}
	if out.Status == 0 {
		out.Status = 502
	}
	if out.Message == "" {
		out.Message = e.Code
	}
	out.Message = "Bedrock " + e.Code + ": " + out.Message
	return out
}

// ErrorFromCredentialsRefusal is the client's error when AWS refused the
// credentials of the deployment (an STS call failed with code). The
// message stays generic: the reason, and which model entry, go to the log.
func ErrorFromCredentialsRefusal(code string, cause error) (*openai.Error, bool) {
	m, ok := bedrockErrors[code]
	if !ok || (m.status != 401 && m.status != 403) {
		return nil, false
	}
	return &openai.Error{Status: m.status, Type: m.typ, Code: m.code, Err: cause,
		Message: "AWS refused the credentials of this model's deployment (" + code + "); see the gateway's log"}, true
}
