package emulator

import (
	"fmt"
	"time"

	"github.com/strata-gateway/strata/internal/bedrock"
)

// Script is a canned answer for the next call that matches Model. It is how
// tests make the model call tools, reason, report cache tokens or stop for a
// guardrail. Response is sent as given, except that an empty role, stop reason
// or usage is filled in and metrics.latencyMs is measured when Metrics is nil.
// ConverseStream turns it into the events Bedrock would stream.
type Script struct {
	Model    string                   `json:"model"` // model id to match; "" matches any
	Response bedrock.ConverseResponse `json:"response"`
}

// Fault kinds.
const (
	FaultThrottling    = "throttling"      // 429 ThrottlingException
	FaultInternal      = "internal"        // 500 InternalServerException
	FaultUnavailable   = "unavailable"     // 503 ServiceUnavailableException
	FaultModelTimeout  = "model_timeout"   // 408 ModelTimeoutException
	FaultModelNotReady = "model_not_ready" // 429 ModelNotReadyException
	FaultValidation    = "validation"      // 400 ValidationException "Input is too long for requested model."
	FaultAccessDenied  = "access_denied"   // 403 AccessDeniedException
	FaultNotFound      = "not_found"       // 404 ResourceNotFoundException
	FaultModelError    = "model_error"     // 424 ModelErrorException
	FaultSlow          = "slow"            // answer normally after Delay

	// The stream kinds hit ConverseStream only; Converse calls pass them by.
	FaultStreamException = "stream_exception" // AfterEvents events, then an exception frame
	FaultStreamError     = "stream_error"     // AfterEvents events, then an unmodeled ":message-type error" frame
	FaultStreamBroken    = "stream_broken"    // AfterEvents events, then half a frame and a dropped connection
	FaultStreamStall     = "stream_stall"     // AfterEvents events, then silence for Delay, or until Until is closed (neither: until the client leaves)
)

// statusFaults maps the kinds that answer with an HTTP error to their exception.
var statusFaults = map[string]string{
	FaultThrottling:    "ThrottlingException",
	FaultInternal:      "InternalServerException",
	FaultUnavailable:   "ServiceUnavailableException",
	FaultModelTimeout:  "ModelTimeoutException",
	FaultModelNotReady: "ModelNotReadyException",
	FaultValidation:    "ValidationException",
	FaultAccessDenied:  "AccessDeniedException",
	FaultNotFound:      "ResourceNotFoundException",
	FaultModelError:    "ModelErrorException",
}

// Fault is a failure injected into the next matching calls.
type Fault struct {
	Model string // model id to match; "" matches any
	Kind  string // one of the Fault* kinds
	Times int    // how many calls it hits; 0 means 1, negative means every call until Reset
	// Delay is waited before the fault acts (for stream_stall: the length of the stall).
	Delay       time.Duration
	AfterEvents int // stream kinds: how many events are sent before the fault
	// Exception names the exception of a stream_exception ("ThrottlingException" or
	// "throttlingException"; default ModelStreamErrorException) or the error code of
	// a stream_error.
	Exception string
	Message   string // replaces the exception's usual message
	// Until, for a stream_stall in this process, ends the silence when it
	// is closed: the stream then goes on as it would have. A test holds a
	// stream open with it for as long as it needs, without a timer.
	Until <-chan struct{}
}

func (f Fault) streamOnly() bool {
	switch f.Kind {
	case FaultStreamException, FaultStreamError, FaultStreamBroken, FaultStreamStall:
		return true
	}
	return false
}

func (f Fault) validate() error {
	if _, ok := statusFaults[f.Kind]; ok || f.Kind == FaultSlow || f.streamOnly() {
		return nil
	}
	return fmt.Errorf("emulator: unknown fault kind %q", f.Kind)
}

// apiError is the HTTP error a status fault answers with.
func (f Fault) apiError() (*apiError, bool) {
	name, ok := statusFaults[f.Kind]
	if !ok {
		return nil, false
	}
	return newAPIError(name, f.Message), true
}

type queuedFault struct {
	Fault
	remaining int // negative: forever
}

// Script queues a scripted answer behind those already queued.
func (e *Emulator) Script(s Script) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.scripts = append(e.scripts, s)
}

// Fault queues a fault behind those already queued. It panics on an unknown
// kind: a misspelt fault that silently never fires would make a test lie.
func (e *Emulator) Fault(f Fault) {
	if err := f.validate(); err != nil {
		panic(err)
	}
	remaining := f.Times
	if remaining == 0 {
		remaining = 1
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = append(e.faults, &queuedFault{Fault: f, remaining: remaining})
}

// takeScript removes and returns the first script queued for model.
func (e *Emulator) takeScript(model string) (Script, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, s := range e.scripts {
		if s.Model == "" || s.Model == model {
			e.scripts = append(e.scripts[:i:i], e.scripts[i+1:]...)
			return s, true
		}
	}
	return Script{}, false
}

// takeFault uses up one hit of the first fault queued for model that applies to
// this operation.
func (e *Emulator) takeFault(model string, streaming bool) (Fault, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, f := range e.faults {
		if (f.Model != "" && f.Model != model) || (f.streamOnly() && !streaming) {
			continue
		}
		if f.remaining > 0 {
			f.remaining--
			if f.remaining == 0 {
				e.faults = append(e.faults[:i:i], e.faults[i+1:]...)
			}
		}
		return f.Fault, true
	}
	return Fault{}, false
}
