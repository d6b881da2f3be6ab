package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/strata-gateway/strata/internal/config"
)

// ScopeName is the instrumentation scope of Strata's spans.
const ScopeName = "github.com/strata-gateway/strata"

// Tracing is the tracer provider of a running gateway.
type Tracing struct {
	// Tracer starts Strata's spans; nil when tracing is off.
	Tracer trace.Tracer
	// MessageLogging says whether spans carry prompt and completion text.
	MessageLogging bool

	provider *sdktrace.TracerProvider
}

// Protocols are the values OTEL_EXPORTER_OTLP_PROTOCOL may take.
const (
	ProtocolHTTP = "http/protobuf"
	ProtocolJSON = "http/json"
	ProtocolGRPC = "grpc"
)

// New builds the tracer provider traces ask for: an OTLP exporter whose
// endpoint, headers, timeout and TLS the exporter reads from the standard
// OTEL_EXPORTER_OTLP_* variables, the protocol from
// OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL
// (http/protobuf when unset), spans batched as OTEL_BSP_* say and sampled
// as OTEL_TRACES_SAMPLER says (by default: every request, or as the
// incoming traceparent decided). With traces off it returns a Tracing
// with no Tracer, and nothing is built.
func New(ctx context.Context, traces config.Traces, getenv func(string) string, version string, log *slog.Logger) (*Tracing, error) {
	if !traces.Enabled {
		return &Tracing{}, nil
	}
	warnLiteLLMVariables(getenv, log)
	protocol := protocolOf(getenv)
	var exp sdktrace.SpanExporter
	var err error
	switch protocol {
	case ProtocolHTTP:
		exp, err = otlptracehttp.New(ctx)
	case ProtocolJSON:
		// The Go exporter speaks protobuf only; OTLP/HTTP receivers take
		// both on the same endpoint.
		log.Warn("OTEL_EXPORTER_OTLP_PROTOCOL=http/json: traces are sent as http/protobuf, which OTLP/HTTP receivers accept on the same endpoint")
		protocol = ProtocolHTTP
		exp, err = otlptracehttp.New(ctx)
	case ProtocolGRPC:
		exp, err = otlptracegrpc.New(ctx)
	default:
		return nil, fmt.Errorf("traces: OTEL_EXPORTER_OTLP_PROTOCOL %q: want %s, %s or %s", protocol, ProtocolHTTP, ProtocolGRPC, ProtocolJSON)
	}
	if err != nil {
		return nil, fmt.Errorf("traces: OTLP exporter: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "strata"), attribute.String("service.version", version)),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("traces: resource: %w", err)
	}
	// The SDK tells of failed exports only through the process's error
	// handler; they belong in the gateway's log, in its format.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn("traces: export failed", "error", err.Error())
	}))
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	log.Info("traces are sent over OTLP", "protocol", protocol, "message_logging", traces.MessageLogging)
	return &Tracing{Tracer: tp.Tracer(ScopeName, trace.WithInstrumentationVersion(version)), MessageLogging: traces.MessageLogging, provider: tp}, nil
}

// litellmVariables are LiteLLM's own names for where traces go, with the
// standard variable Strata reads instead.
var litellmVariables = []struct{ name, standard string }{
	{"OTEL_EXPORTER", "OTEL_EXPORTER_OTLP_PROTOCOL"},
	{"OTEL_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"},
	{"OTEL_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS"},
}

// warnLiteLLMVariables names each of LiteLLM's own variables that is set,
// which Strata does not read: left unsaid, traces would silently go to
// the default endpoint. Values stay out of the log: headers hold tokens.
func warnLiteLLMVariables(getenv func(string) string, log *slog.Logger) {
	for _, v := range litellmVariables {
		if getenv(v.name) != "" {
			log.Warn("traces: "+v.name+" is LiteLLM's own variable, which Strata does not read; set "+v.standard+" instead", "variable", v.name)
		}
	}
}

func protocolOf(getenv func(string) string) string {
	for _, k := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
	}
	return ProtocolHTTP
}

// Shutdown sends the spans still buffered and stops the exporter; ctx
// bounds the wait. It does nothing when tracing is off.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil || t.provider == nil {
		return nil
	}
	return t.provider.Shutdown(ctx)
}
