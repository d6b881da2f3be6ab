package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-gateway/strata/internal/bedrock"
	"github.com/strata-gateway/strata/internal/config"
)

// refusingTransport records the calls it is handed and refuses them all.
type refusingTransport struct{ calls []*http.Request }

var errRefused = errors.New("refused by the test transport")

func (t *refusingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	t.calls = append(t.calls, r)
	return nil, errRefused
}

func TestWithBedrockTransportCarriesEveryDeploymentsCalls(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte("model_list:\n"+reloadModel("a")+reloadModel("b")), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	rt := &refusingTransport{}
	ctx := WithBedrockTransport(context.Background(), rt)
	deployments, err := prepare(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if len(deployments) != 2 {
		t.Fatalf("got %d deployments, want 2", len(deployments))
	}
	for _, d := range deployments {
		_, err := d.Client.Converse(ctx, d.ModelID, &bedrock.ConverseRequest{})
		if !errors.Is(err, errRefused) {
			t.Errorf("%s: Converse error = %v, want the test transport's refusal", d.ID, err)
		}
	}
	if len(rt.calls) != 2 {
		t.Fatalf("the transport saw %d calls, want 2", len(rt.calls))
	}
	for _, r := range rt.calls {
		if r.URL.Host != "127.0.0.1:9" || !strings.HasSuffix(r.URL.Path, "/converse") {
			t.Errorf("call to %s, want the deployment's converse URL", r.URL)
		}
		if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
			t.Errorf("call to %s is not SigV4-signed: Authorization %q", r.URL, r.Header.Get("Authorization"))
		}
	}
}
