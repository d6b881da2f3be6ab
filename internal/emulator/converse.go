package emulator

import (
	"net/http"

	"github.com/strata-gateway/strata/internal/bedrock"
)

// serveConverse answers POST /model/{modelId}/converse with one JSON body.
func (e *Emulator) serveConverse(x *exchange) error {
	resp, _, err := e.prepareConverse(x, false)
	if err != nil {
		return err
	}
	if resp.Metrics == nil {
		resp.Metrics = x.latency(e.now())
	}
	return x.answerJSON(resp)
}

// serveConverseStream answers POST /model/{modelId}/converse-stream with an eventstream.
func (e *Emulator) serveConverseStream(x *exchange) error {
	resp, fault, err := e.prepareConverse(x, true)
	if err != nil {
		return err
	}
	return e.streamResponse(x, streamEvents(resp), fault)
}

// prepareConverse does what both Converse operations share: parse and validate
// the body, let a fault act, and produce the answer (scripted or echoed). A
// stream fault is returned for the stream to apply.
func (e *Emulator) prepareConverse(x *exchange, streaming bool) (bedrock.ConverseResponse, *Fault, error) {
	req, err := decodeConverse(x.body)
	if err != nil {
		return bedrock.ConverseResponse{}, nil, err
	}
	x.call.Converse = req
	if err := validateConverse(x.call.ModelID, req); err != nil {
		return bedrock.ConverseResponse{}, nil, err
	}
	streamFault, err := e.admit(x, streaming)
	if err != nil {
		return bedrock.ConverseResponse{}, nil, err
	}
	if s, ok := e.takeScript(x.call.ModelID); ok {
		return servedAs(completeScripted(s.Response, req), req), streamFault, nil
	}
	if req.OutputConfig != nil && req.OutputConfig.TextFormat != nil {
		return servedAs(schemaAnswer(req), req), streamFault, nil
	}
	return servedAs(echoResponse(req), req), streamFault, nil
}

// servedAs reports the tier and latency profile the request asked for as
// the ones it was served on, as Bedrock does when it has the capacity; a
// script that names its own (a flex request served on default) keeps them.
func servedAs(resp bedrock.ConverseResponse, req *bedrock.ConverseRequest) bedrock.ConverseResponse {
	if resp.ServiceTier == nil && req.ServiceTier != nil {
		resp.ServiceTier = &bedrock.ServiceTier{Type: req.ServiceTier.Type}
	}
	if resp.PerformanceConfig == nil && req.PerformanceConfig != nil {
		resp.PerformanceConfig = &bedrock.PerformanceConfig{Latency: req.PerformanceConfig.Latency}
	}
	return resp
}

// admit runs once a request is valid: it takes the next matching fault, records
// the call, and waits or fails as the fault says. Any operation uses it between
// validating a request and answering it.
func (e *Emulator) admit(x *exchange, streaming bool) (*Fault, error) {
	fault, faulted := e.takeFault(x.call.ModelID, streaming)
	if !faulted {
		e.commit(x, http.StatusOK, nil)
		return nil, nil
	}
	x.call.Fault = fault.Kind
	if apiErr, ok := fault.apiError(); ok {
		e.commit(x, apiErr.status, apiErr)
		if err := sleep(x.r.Context(), fault.Delay); err != nil {
			return nil, err
		}
		return nil, apiErr
	}
	e.commit(x, http.StatusOK, nil)
	if fault.streamOnly() {
		return &fault, nil
	}
	// A slow answer: wait, then answer normally.
	return nil, sleep(x.r.Context(), fault.Delay)
}
