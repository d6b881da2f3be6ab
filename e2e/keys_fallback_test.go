package e2e

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/strata-gateway/strata/internal/emulator"
	"github.com/strata-gateway/strata/internal/store/storetest"
)

// A fallback is a model like any other: a key (or its team) limited to
// some models is never served by a fallback outside them. The fallback is
// skipped, with a log line, and nothing is sent to Bedrock for it.
func TestFallbacksStayInsideTheKeysModels(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	cfg := routingConfig(endpoint, []deployment{
		{"bedrock-claude", claudeModel, "claude-east", ""},
		{"bedrock-llama", llamaModel, "llama-east", ""},
		{"bedrock-nova", novaModel, "nova-east", ""},
	}, `router_settings:
  fallbacks: [{"bedrock-claude": ["bedrock-llama", "bedrock-nova"]}]
  context_window_fallbacks: [{"bedrock-claude": ["bedrock-llama"]}]
general_settings:
  master_key: os.environ/STRATA_MASTER_KEY
  database_url: `+storetest.URL(t, "sqlite")+"\n")
	g := &keyGateway{gateway: startGateway(t, cfg, keysEnv...), t: t, em: em}
	var withNova, claudeOnly, inTeam generated
	g.admin("POST", "/key/generate", `{"key_alias":"with-nova","models":["bedrock-claude","bedrock-nova"]}`, &withNova)
	g.admin("POST", "/key/generate", `{"key_alias":"claude-only","models":["bedrock-claude"]}`, &claudeOnly)
	g.admin("POST", "/team/new", `{"team_id":"claude-team","models":["bedrock-claude"]}`, nil)
	g.admin("POST", "/key/generate", `{"key_alias":"in-team","team_id":"claude-team"}`, &inTeam)

	// chat asks for bedrock-claude with key through the official SDK,
	// Bedrock failing claude with fault.
	chat := func(key, fault string, opts ...option.RequestOption) (int, *http.Response) {
		t.Helper()
		em.Reset()
		em.Fault(emulator.Fault{Model: "claude-east", Kind: fault, Times: -1})
		var resp *http.Response
		client := g.client(option.WithAPIKey(key))
		_, err := client.Chat.Completions.New(ctxTimeout(t), hi("bedrock-claude"),
			append(opts, option.WithResponseInto(&resp))...)
		var apiErr *openai.Error
		if errors.As(err, &apiErr) {
			return apiErr.StatusCode, resp
		}
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp
	}

	status, resp := chat(withNova.Key, emulator.FaultUnavailable)
	if status != 200 || resp.Header.Get("X-Strata-Model-Group") != "bedrock-nova" {
		t.Fatalf("key with nova: %d (model group %q), want nova's answer", status, resp.Header.Get("X-Strata-Model-Group"))
	}
	if calls := callsTo(em); !slices.Equal(calls, []string{"claude-east", "nova-east"}) {
		t.Errorf("key with nova: Bedrock calls %v, want claude then nova (llama is not the key's)", calls)
	}

	for _, k := range []generated{claudeOnly, inTeam} {
		if status, _ := chat(k.Key, emulator.FaultUnavailable); status != 503 {
			t.Errorf("%s: %d, want claude's own 503 with every fallback skipped", *k.KeyAlias, status)
		}
		if calls := callsTo(em); !slices.Equal(calls, []string{"claude-east"}) {
			t.Errorf("%s: Bedrock calls %v, want claude's alone", *k.KeyAlias, calls)
		}
	}

	// The request's own fallbacks too.
	status, _ = chat(claudeOnly.Key, emulator.FaultUnavailable, option.WithJSONSet("fallbacks", []string{"bedrock-nova"}))
	if calls := callsTo(em); status != 503 || !slices.Equal(calls, []string{"claude-east"}) {
		t.Errorf("request fallbacks: %d, Bedrock calls %v; want claude's 503 and claude's call alone", status, calls)
	}

	// A prompt too long for claude: the context window fallback is not the key's.
	status, _ = chat(claudeOnly.Key, emulator.FaultValidation)
	if calls := callsTo(em); status != 400 || !slices.Equal(calls, []string{"claude-east"}) {
		t.Errorf("context window fallback: %d, Bedrock calls %v; want claude's 400 and claude's call alone", status, calls)
	}

	if !strings.Contains(g.logs.String(), "fallback skipped: the caller may not use its model") {
		t.Errorf("no log line for the skipped fallbacks:\n%s", g.logs)
	}
}
