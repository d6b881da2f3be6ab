package telemetry

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/strata-gateway/strata/internal/config"
)

// received keeps what a receiver was sent.
type received struct {
	mu       sync.Mutex
	spans    []string
	services []string
}

func (r *received) add(req *coltracepb.ExportTraceServiceRequest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.Key == "service.name" {
				r.services = append(r.services, kv.Value.GetStringValue())
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				r.spans = append(r.spans, s.Name)
			}
		}
	}
}

type grpcReceiver struct {
	coltracepb.UnimplementedTraceServiceServer
	got *received
}

func (g grpcReceiver) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	g.got.add(req)
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// Spans reach an OTLP receiver over each protocol, with the resource the
// environment names, and the ones still buffered go out on Shutdown.
func TestExportOverEachProtocol(t *testing.T) {
	for _, protocol := range []string{"", ProtocolHTTP, ProtocolJSON, ProtocolGRPC} {
		t.Run("protocol="+protocol, func(t *testing.T) {
			got := &received{}
			var endpoint string
			if protocol == ProtocolGRPC {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				srv := grpc.NewServer()
				coltracepb.RegisterTraceServiceServer(srv, grpcReceiver{got: got})
				go srv.Serve(ln)
				t.Cleanup(srv.Stop)
				endpoint = "http://" + ln.Addr().String()
			} else {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					raw, _ := io.ReadAll(r.Body)
					var req coltracepb.ExportTraceServiceRequest
					if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" || proto.Unmarshal(raw, &req) != nil {
						t.Errorf("not an OTLP/HTTP protobuf export: %s %s", r.URL.Path, r.Header.Get("Content-Type"))
						http.Error(w, "bad export", http.StatusBadRequest)
						return
					}
					got.add(&req)
					w.Header().Set("Content-Type", "application/x-protobuf")
				}))
				t.Cleanup(srv.Close)
				endpoint = srv.URL
			}
			// The exporters read their own variables from the process.
			t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
			t.Setenv("OTEL_SERVICE_NAME", "strata-unit")
			env := map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": protocol}
			var logs bytes.Buffer
			tr, err := New(context.Background(), config.Traces{Enabled: true}, func(k string) string { return env[k] }, "test", slog.New(slog.NewTextHandler(&logs, nil)))
			if err != nil {
				t.Fatal(err)
			}
			_, span := tr.Tracer.Start(context.Background(), "chat bedrock-claude")
			span.End()
			if err := tr.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			got.mu.Lock()
			defer got.mu.Unlock()
			if len(got.spans) != 1 || got.spans[0] != "chat bedrock-claude" || len(got.services) != 1 || got.services[0] != "strata-unit" {
				t.Errorf("received spans %v of services %v", got.spans, got.services)
			}
			if warned := strings.Contains(logs.String(), "http/json"); warned != (protocol == ProtocolJSON) {
				t.Errorf("log: %s", logs.String())
			}
		})
	}
}

func TestTracesOffBuildsNothing(t *testing.T) {
	tr, err := New(context.Background(), config.Traces{}, func(string) string { return "bogus" }, "test", slog.New(slog.DiscardHandler))
	if err != nil || tr.Tracer != nil {
		t.Fatalf("traces off: tracer %v, err %v", tr.Tracer, err)
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestLiteLLMVariablesAreNamed(t *testing.T) {
	env := map[string]string{"OTEL_EXPORTER": "otlp_http", "OTEL_HEADERS": "Authorization=Bearer%20secret-token"}
	var logs bytes.Buffer
	tr, err := New(context.Background(), config.Traces{Enabled: true}, func(k string) string { return env[k] }, "test", slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Shutdown(context.Background())
	out := logs.String()
	for _, want := range []string{"OTEL_EXPORTER is LiteLLM's own variable", "set OTEL_EXPORTER_OTLP_HEADERS instead"} {
		if !strings.Contains(out, want) {
			t.Errorf("log has no %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "OTEL_ENDPOINT") || strings.Contains(out, "secret-token") {
		t.Errorf("log names an unset variable or a value:\n%s", out)
	}
}

func TestUnknownProtocolIsRefused(t *testing.T) {
	env := map[string]string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "thrift"}
	_, err := New(context.Background(), config.Traces{Enabled: true}, func(k string) string { return env[k] }, "test", slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), `"thrift"`) {
		t.Fatalf("err = %v", err)
	}
}
