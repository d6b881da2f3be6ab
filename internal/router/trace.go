package router

import (
	"context"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/strata-gateway/strata/internal/telemetry"
	"github.com/strata-gateway/strata/internal/translate"
)

// startSpan starts an attempt's client span, a child of the request's:
// "chat anthropic.claude-3-haiku-20240307-v1:0". Retries and fallbacks
// are attempts of their own, numbered within the request.
func (r *table) startSpan(ctx context.Context, d *Deployment, g *group, req *Request, attempt int) (context.Context, trace.Span) {
	op := req.Operation
	if op == "" {
		op = operationOf(d.API)
	}
	attrs := append(telemetry.BedrockAttributes(op),
		telemetry.RequestModel.String(d.BaseModel),
		telemetry.ModelGroup.String(g.name),
		telemetry.Deployment.String(d.ID),
		telemetry.ModelID.String(d.ModelID),
		telemetry.Attempt.Int(attempt),
		telemetry.Stream.Bool(req.Stream),
	)
	return r.tracer.Start(ctx, telemetry.SpanName(op, d.BaseModel), trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
}

// operationOf names the GenAI operation a deployment's API serves.
func operationOf(api translate.API) string {
	switch api {
	case translate.APIEmbeddings:
		return telemetry.OpEmbeddings
	case translate.APIImages:
		return telemetry.OpGenerateContent
	case translate.APIRerank:
		return string(translate.APIRerank)
	}
	return telemetry.OpChat
}

// endSpan ends an attempt's span with what it used, or how it failed: the
// error's Bedrock exception name (ThrottlingException), the timeout that
// cut it, or a kind of failure. The error's text stays off the span: an
// upstream message may quote the prompt.
func endSpan(span trace.Span, d *Deployment, usage Usage, err error) {
	if usage.InputTokens > 0 || usage.OutputTokens > 0 {
		span.SetAttributes(telemetry.UsageInputTokens.Int(usage.InputTokens), telemetry.UsageOutputTokens.Int(usage.OutputTokens))
	}
	if err == nil {
		span.SetAttributes(telemetry.ResponseModel.String(d.BaseModel))
		span.End()
		return
	}
	name := errorType(err)
	span.SetAttributes(telemetry.ErrorType.String(name))
	span.SetStatus(codes.Error, name)
	span.End()
}

// errorType is the low-cardinality name of an attempt's failure.
func errorType(err error) string {
	if name := upstreamErrorName(err); name != "" {
		return name
	}
	switch classify(err) {
	case failCanceled:
		return "canceled"
	case failClient:
		return "client_error"
	case failContextWindow:
		return "context_window_exceeded"
	case failContentPolicy:
		return "content_policy"
	case failDeployment:
		return "deployment_misconfigured"
	}
	return "_OTHER"
}
