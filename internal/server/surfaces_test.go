package server

import (
	"strings"
	"testing"

	"github.com/strata-gateway/strata/internal/limits"
	"github.com/strata-gateway/strata/internal/router"
)

// Each surface (OpenAI's, Anthropic's, the Bedrock pass-through) answers a
// request over a limit in its own error shape, and with the same headers
// saying when to come back: Retry-After in whole seconds, and the
// x-ratelimit-* headers when the limiter refused it. Bedrock is not called.
func TestSurfacesRetryAfter(t *testing.T) {
	claude := "anthropic.claude-3-5-sonnet-20240620-v1:0"
	surfaces := []struct{ name, path, body string }{
		{"openai", "/v1/chat/completions", chatBody},
		{"anthropic", "/v1/messages", `{"model":"claude","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`},
		{"bedrock", "/bedrock/model/claude/converse", `{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`},
	}
	limitsOf := []struct {
		name    string
		opts    func() Options
		model   testModel
		headers []string // present besides Retry-After
	}{
		{name: "deployment rpm", opts: func() Options { return Options{} },
			model: testModel{name: "claude", model: claude, policy: router.Policy{RPM: 1}}},
		{name: "limiter rpm",
			opts: func() Options {
				return Options{Limiter: limits.New(limits.Options{Global: &limits.Scope{Kind: "global", ID: "gateway", Name: "the gateway", RPM: 1}})}
			},
			model:   testModel{name: "claude", model: claude},
			headers: []string{"X-Ratelimit-Limit-Requests", "X-Ratelimit-Remaining-Requests"}},
	}
	for _, s := range surfaces {
		for _, l := range limitsOf {
			t.Run(s.name+"/"+l.name, func(t *testing.T) {
				f := newServerFixture(t, l.opts(), l.model)
				if w := f.do(t, "POST", s.path, s.body, nil); w.Code != 200 {
					t.Fatalf("first request: %d %s", w.Code, w.Body)
				}
				w := f.do(t, "POST", s.path, s.body, nil)
				if w.Code != 429 {
					t.Fatalf("over the limit: %d %s", w.Code, w.Body)
				}
				if ra := w.Header().Get("Retry-After"); ra == "" || ra == "0" || strings.ContainsAny(ra, ".-") {
					t.Errorf("Retry-After %q, want whole seconds until the limit frees", ra)
				}
				for _, h := range l.headers {
					if w.Header().Get(h) == "" {
						t.Errorf("no %s header", h)
					}
				}
				if n := len(f.em.Calls()); n != 1 {
					t.Errorf("Bedrock got %d calls, want only the first", n)
				}
			})
		}
	}
}
