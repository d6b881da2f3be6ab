package bedrock

import (
	"fmt"
	"strings"
)

// APIError is an error Bedrock answered with: the exception's name (from the
// X-Amzn-ErrorType header, the body's __type, or an eventstream exception
// frame), its HTTP status and Bedrock's own message.
type APIError struct {
	Status  int    // HTTP status Bedrock answered with; 0 for stream exceptions
	Code    string // exception name, e.g. "ThrottlingException"
	Message string // Bedrock's message, verbatim
}

func (e *APIError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("bedrock: %s (HTTP %d): %s", e.Code, e.Status, e.Message)
	}
	return fmt.Sprintf("bedrock: %s: %s", e.Code, e.Message)
}

// ExceptionName normalises an exception name as Bedrock writes it in its
// various places ("ThrottlingException:http://internal.amazon.com/coral/...",
// "com.amazon.bedrock#ThrottlingException", "throttlingException") to the
// API model's spelling ("ThrottlingException").
func ExceptionName(raw string) string {
	name := raw
	if i := strings.IndexByte(name, ':'); i >= 0 {
		name = name[:i]
	}
	if i := strings.LastIndexByte(name, '#'); i >= 0 {
		name = name[i+1:]
	}
	name = strings.TrimSpace(name)
	if name != "" && name[0] >= 'a' && name[0] <= 'z' {
		name = string(name[0]-'a'+'A') + name[1:]
	}
	return name
}
