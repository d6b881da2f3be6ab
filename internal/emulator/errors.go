package emulator

import (
	"encoding/json"
	"net/http"
)

// apiError is an error the emulator answers with in Bedrock's shape.
type apiError struct {
	name    string // exception name as the API model spells it, e.g. "ThrottlingException"
	status  int
	message string
}

func (e *apiError) Error() string { return e.name + ": " + e.message }

// exception describes how Bedrock reports one exception.
type exception struct {
	status  int
	message string // the message Bedrock gives when nothing more specific applies
	// namespace is the Coral service that raises it: authentication failures come from
	// Coral's front door, not from Bedrock, and the X-Amzn-ErrorType header says so.
	namespace string
}

const (
	bedrockNamespace = "com.amazon.bedrock"
	coralNamespace   = "com.amazon.coral.service"
)

// exceptions maps exception names to their status (from the API model) and Bedrock's usual message.
var exceptions = map[string]exception{
	"AccessDeniedException":       {http.StatusForbidden, "You don't have access to the model with the specified model ID.", bedrockNamespace},
	"InternalServerException":     {http.StatusInternalServerError, "The system encountered an unexpected error during processing. Try your request again.", bedrockNamespace},
	"ModelErrorException":         {http.StatusFailedDependency, "The model returned an error while processing the request.", bedrockNamespace},
	"ModelNotReadyException":      {http.StatusTooManyRequests, "Model is not ready to serve inference requests. The AWS SDK will automatically retry the operation up to 5 times. For information about configuring automatic retries, see Retry behavior in the AWS SDKs and Tools reference guide.", bedrockNamespace},
	"ModelStreamErrorException":   {http.StatusFailedDependency, "The model stream encountered an error. Try your request again.", bedrockNamespace},
	"ModelTimeoutException":       {http.StatusRequestTimeout, "Model has timed out in processing the request. Try your request again.", bedrockNamespace},
	"ResourceNotFoundException":   {http.StatusNotFound, "Model not found.", bedrockNamespace},
	"ServiceUnavailableException": {http.StatusServiceUnavailable, "Bedrock is unable to process your request.", bedrockNamespace},
	"ThrottlingException":         {http.StatusTooManyRequests, "Too many requests, please wait before trying again.", bedrockNamespace},
	"ValidationException":         {http.StatusBadRequest, "Input is too long for requested model.", bedrockNamespace},
	"UnknownOperationException":   {http.StatusNotFound, "The requested operation is not recognized by the service.", coralNamespace},

	"MissingAuthenticationTokenException": {http.StatusForbidden, "Missing Authentication Token", coralNamespace},
	"IncompleteSignatureException":        {http.StatusForbidden, "The request signature is incomplete.", coralNamespace},
	"InvalidSignatureException":           {http.StatusForbidden, msgSignatureMismatch, coralNamespace},
	"UnrecognizedClientException":         {http.StatusForbidden, "The security token included in the request is invalid.", coralNamespace},
}

const msgSignatureMismatch = "The request signature we calculated does not match the signature you provided. " +
	"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."

// newAPIError builds the named exception; an empty message means Bedrock's usual one.
func newAPIError(name, message string) *apiError {
	ex, ok := exceptions[name]
	if !ok {
		ex = exception{status: http.StatusBadRequest, message: "An error occurred (" + name + ").", namespace: bedrockNamespace}
	}
	if message == "" {
		message = ex.message
	}
	return &apiError{name: name, status: ex.status, message: message}
}

func validationError(message string) *apiError { return newAPIError("ValidationException", message) }

// writeAPIError answers as Bedrock does: the status from the API model, the exception name in
// X-Amzn-ErrorType (where the AWS SDKs look first) and {"message": ...} as the body.
func writeAPIError(w http.ResponseWriter, err *apiError) {
	namespace := bedrockNamespace
	if ex, ok := exceptions[err.name]; ok {
		namespace = ex.namespace
	}
	body, _ := json.Marshal(struct {
		Message string `json:"message"`
	}{err.message})
	h := w.Header()
	h.Set("X-Amzn-ErrorType", err.name+":http://internal.amazon.com/coral/"+namespace+"/")
	h.Set("Content-Type", "application/json")
	w.WriteHeader(err.status)
	_, _ = w.Write(body)
}
