package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/strata-gateway/strata/internal/anthropic"
	"github.com/strata-gateway/strata/internal/openai"
	"github.com/strata-gateway/strata/internal/telemetry"
)

// genAIRecord is what a model request's span says of the request and its
// answer beyond the accounting: the parameters asked for, the answer's id
// and finish reasons, and, with message logging on, the text.
type genAIRecord struct {
	maxTokens     *int
	temperature   *float64
	topP          *float64
	responseID    string
	finishReasons []string
	// body is the request body, kept only with message logging on.
	body []byte
	// output is the answer's messages as JSON, kept only with message logging on.
	output string
}

// traced says whether a path gets a request span: all but the probes and
// the metrics scrape, which would drown the model requests.
func traced(path string) bool {
	return !strings.HasPrefix(path, "/health") && path != "/metrics"
}

var traceContext = propagation.TraceContext{}

// startRequestSpan starts a request's server span, as a child of the
// client's span when the request carries a W3C traceparent. It is named
// for the HTTP route until the request turns out to be a model request.
func (s *Server) startRequestSpan(ctx context.Context, r *http.Request, start time.Time) (context.Context, trace.Span) {
	ctx = traceContext.Extract(ctx, propagation.HeaderCarrier(r.Header))
	return s.tracer.Start(ctx, r.Method+" "+r.URL.Path, trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(start),
		trace.WithAttributes(telemetry.HTTPMethod.String(r.Method), telemetry.URLPath.String(r.URL.Path)))
}

// endRequestSpan ends a request's span with what the request went
// through. A model request's span is named and attributed as the GenAI
// semantic conventions say: "chat claude-haiku".
func (s *Server) endRequestSpan(span trace.Span, rec *requestRecord, status int, end time.Time) {
	attrs := make([]attribute.KeyValue, 0, 32)
	attrs = append(attrs, telemetry.HTTPStatusCode.Int(status))
	if rec.model != "" {
		op := operationOf(rec.callType)
		span.SetName(telemetry.SpanName(op, rec.model))
		attrs = append(attrs, telemetry.BedrockAttributes(op)...)
		attrs = append(attrs, telemetry.RequestModel.String(rec.model), telemetry.CallType.String(rec.callType), telemetry.Stream.Bool(rec.stream),
			telemetry.Retries.Int(rec.retries), telemetry.Fallbacks.Int(rec.fallbacks))
		attrs = appendGenAI(attrs, &rec.gen)
		if rec.deployment != "" {
			attrs = append(attrs, telemetry.Deployment.String(rec.deployment), telemetry.ModelGroup.String(rec.modelGroup),
				telemetry.ModelID.String(rec.modelID), telemetry.Cost.Float64(rec.cost))
			if rec.responseModel != "" {
				attrs = append(attrs, telemetry.ResponseModel.String(rec.responseModel))
			}
			if rec.estimated {
				attrs = append(attrs, telemetry.CostEstimated.Bool(true))
			}
		}
		if rec.usage.InputTokens > 0 || rec.usage.OutputTokens > 0 {
			attrs = append(attrs, telemetry.UsageInputTokens.Int(rec.usage.InputTokens), telemetry.UsageOutputTokens.Int(rec.usage.OutputTokens))
		}
		if s.traceMessages {
			attrs = appendMessages(attrs, &rec.gen)
		}
	}
	for _, kv := range []struct {
		key   attribute.Key
		value string
	}{{telemetry.KeyAlias, rec.caller.KeyAlias}, {telemetry.TeamID, rec.caller.TeamID}, {telemetry.UserID, rec.caller.UserID}, {telemetry.EndUser, rec.endUser}} {
		if kv.value != "" {
			attrs = append(attrs, kv.key.String(kv.value))
		}
	}
	if rec.err != nil || status >= 400 {
		errType := errorTypeOf(rec.err, status)
		attrs = append(attrs, telemetry.ErrorType.String(errType))
		// A server span fails on a 5xx, or on an answer that broke off
		// after its 200 went out; a 4xx is the client's doing.
		if status >= 500 || status < 400 {
			span.SetStatus(codes.Error, errType)
		}
	}
	span.SetAttributes(attrs...)
	span.End(trace.WithTimestamp(end))
}

// operationOf names the GenAI operation of a request by its call type.
func operationOf(callType string) string {
	switch callType {
	case "embeddings":
		return telemetry.OpEmbeddings
	case "images":
		return telemetry.OpGenerateContent
	case "count_tokens", "rerank":
		return callType // no GenAI convention names these yet
	}
	return telemetry.OpChat // chat, messages, responses, and the pass-through's calls
}

// errorTypeOf is the low-cardinality name of what failed a request: the
// code of the error the client got (rate_limit_exceeded, ...), or its
// status.
func errorTypeOf(err error, status int) string {
	if errors.Is(err, context.Canceled) && !errors.Is(err, ErrShuttingDown) {
		return "canceled"
	}
	if err != nil {
		ce := clientError(err)
		if ce.Code != "" {
			return ce.Code
		}
		if ce.Type != "" {
			return ce.Type
		}
	}
	return http.StatusText(status)
}

func appendGenAI(attrs []attribute.KeyValue, g *genAIRecord) []attribute.KeyValue {
	if g.maxTokens != nil {
		attrs = append(attrs, telemetry.RequestMaxTokens.Int(*g.maxTokens))
	}
	if g.temperature != nil {
		attrs = append(attrs, telemetry.RequestTemperature.Float64(*g.temperature))
	}
	if g.topP != nil {
		attrs = append(attrs, telemetry.RequestTopP.Float64(*g.topP))
	}
	if g.responseID != "" {
		attrs = append(attrs, telemetry.ResponseID.String(g.responseID))
	}
	if len(g.finishReasons) > 0 {
		attrs = append(attrs, telemetry.ResponseFinishReasons.StringSlice(g.finishReasons))
	}
	return attrs
}

// appendMessages records the prompt and the answer, as message logging
// asks: the messages as the client sent them (messages, or input and
// instructions, or prompt), and the answer's messages.
func appendMessages(attrs []attribute.KeyValue, g *genAIRecord) []attribute.KeyValue {
	if len(g.body) > 0 {
		var body map[string]json.RawMessage
		if json.Unmarshal(g.body, &body) == nil {
			for _, k := range []string{"messages", "input", "prompt"} {
				if v, ok := body[k]; ok {
					attrs = append(attrs, telemetry.InputMessages.String(string(v)))
					break
				}
			}
			for _, k := range []string{"system", "instructions"} {
				if v, ok := body[k]; ok {
					attrs = append(attrs, telemetry.SystemInstructions.String(string(v)))
					break
				}
			}
		}
	}
	if g.output != "" {
		attrs = append(attrs, telemetry.OutputMessages.String(g.output))
	}
	return attrs
}

// outputMessage is one answer message as gen_ai.output.messages holds it.
type outputMessage struct {
	Role         string       `json:"role"`
	Parts        []outputPart `json:"parts"`
	FinishReason string       `json:"finish_reason,omitempty"`
}

type outputPart struct {
	Type    string `json:"type"`
	Content string `json:"content,omitempty"`
	Name    string `json:"name,omitempty"`
	ID      string `json:"id,omitempty"`
	// Arguments of a tool call, as the model wrote them.
	Arguments json.RawMessage `json:"arguments,omitempty"`
}

// chatOutput encodes a chat completion's choices for gen_ai.output.messages.
func chatOutput(c *openai.ChatCompletion) string {
	msgs := make([]outputMessage, 0, len(c.Choices))
	for _, ch := range c.Choices {
		m := outputMessage{Role: "assistant", FinishReason: ch.FinishReason}
		if ch.Message.Content != nil {
			m.Parts = append(m.Parts, outputPart{Type: "text", Content: *ch.Message.Content})
		}
		for _, tc := range ch.Message.ToolCalls {
			p := outputPart{Type: "tool_call", Name: tc.Function.Name, ID: tc.ID}
			if json.Valid([]byte(tc.Function.Arguments)) {
				p.Arguments = json.RawMessage(tc.Function.Arguments)
			}
			m.Parts = append(m.Parts, p)
		}
		msgs = append(msgs, m)
	}
	return encodeOutput(msgs)
}

// textOutput encodes one assistant message of text.
func textOutput(text, finishReason string) string {
	return encodeOutput([]outputMessage{{Role: "assistant", Parts: []outputPart{{Type: "text", Content: text}}, FinishReason: finishReason}})
}

func encodeOutput(msgs []outputMessage) string {
	b, err := json.Marshal(msgs)
	if err != nil {
		return ""
	}
	return string(b)
}

// noteCompletion records a whole chat answer on the request's span.
func (s *Server) noteCompletion(rec *requestRecord, c *openai.ChatCompletion) {
	if s.tracer == nil {
		return
	}
	g := &rec.gen
	g.responseID = c.ID
	g.finishReasons = g.finishReasons[:0]
	for _, ch := range c.Choices {
		if ch.FinishReason != "" {
			g.finishReasons = append(g.finishReasons, ch.FinishReason)
		}
	}
	if s.traceMessages {
		g.output = chatOutput(c)
	}
}

// noteStreamEnd records a streamed chat answer on the request's span.
func (s *Server) noteStreamEnd(rec *requestRecord, t *streamTally) {
	if s.tracer == nil {
		return
	}
	if t.finishReason != "" {
		rec.gen.finishReasons = []string{t.finishReason}
	}
	if t.text != nil {
		rec.gen.output = textOutput(t.text.String(), t.finishReason)
	}
}

// newStreamText is where a stream's text is collected for the request's
// span; nil, and nothing collected, unless message logging asks for it.
func (s *Server) newStreamText() *strings.Builder {
	if !s.traceMessages {
		return nil
	}
	return &strings.Builder{}
}

// noteMessage records a whole Messages API answer on the request's span.
func (s *Server) noteMessage(rec *requestRecord, whole []byte) {
	if s.tracer == nil {
		return
	}
	var m struct {
		ID         string          `json:"id"`
		StopReason string          `json:"stop_reason"`
		Content    json.RawMessage `json:"content"`
	}
	if json.Unmarshal(whole, &m) != nil {
		return
	}
	rec.gen.responseID = m.ID
	if m.StopReason != "" {
		rec.gen.finishReasons = []string{m.StopReason}
	}
	if s.traceMessages {
		// Anthropic's content blocks as they are: text, tool_use, thinking.
		out, err := json.Marshal([]struct {
			Role         string          `json:"role"`
			Content      json.RawMessage `json:"content"`
			FinishReason string          `json:"finish_reason,omitempty"`
		}{{"assistant", m.Content, m.StopReason}})
		if err == nil {
			rec.gen.output = string(out)
		}
	}
}

// messageTally is what a streamed Messages API answer tells its request's
// span: the message's id, its stop reason and, with message logging on,
// its text.
type messageTally struct {
	id, stopReason string
	text           *strings.Builder
}

// newMessageTally is a streamed Messages answer's tally; nil, and
// nothing read from the events, when traces are off.
func (s *Server) newMessageTally() *messageTally {
	if s.tracer == nil {
		return nil
	}
	return &messageTally{text: s.newStreamText()}
}

// see reads what the span needs from one event: the start, the final
// delta and, when collecting, the text deltas.
func (t *messageTally) see(ev anthropic.Event) {
	if t == nil {
		return
	}
	switch ev.Type {
	case anthropic.EventMessageStart:
		var m struct {
			Message struct {
				ID string `json:"id"`
			} `json:"message"`
		}
		if json.Unmarshal(ev.Data, &m) == nil {
			t.id = m.Message.ID
		}
	case anthropic.EventMessageDelta:
		var m struct {
			Delta struct {
				StopReason string `json:"stop_reason"`
			} `json:"delta"`
		}
		if json.Unmarshal(ev.Data, &m) == nil && m.Delta.StopReason != "" {
			t.stopReason = m.Delta.StopReason
		}
	case anthropic.EventContentBlockDelta:
		if t.text == nil {
			return
		}
		var d anthropic.ContentBlockDelta
		if json.Unmarshal(ev.Data, &d) == nil && d.Delta.Text != nil {
			t.text.WriteString(*d.Delta.Text)
		}
	}
}

// noteMessageStream records a streamed Messages API answer on the
// request's span.
func noteMessageStream(rec *requestRecord, t *messageTally) {
	if t == nil {
		return
	}
	rec.gen.responseID = t.id
	if t.stopReason != "" {
		rec.gen.finishReasons = []string{t.stopReason}
	}
	if t.text != nil {
		rec.gen.output = textOutput(t.text.String(), t.stopReason)
	}
}
