package server

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/strata-gateway/strata/internal/openai"
	"github.com/strata-gateway/strata/internal/router"
	"github.com/strata-gateway/strata/internal/translate"
)

// healthCheckTimeout bounds the call /health makes to one deployment.
const healthCheckTimeout = 15 * time.Second

// endpointHealth is one deployment in GET /health's answer. It names where
// the deployment points, never how it authenticates.
type endpointHealth struct {
	ModelName  string `json:"model_name"`
	Deployment string `json:"deployment"`
	Model      string `json:"model"`
	ModelID    string `json:"model_id"`
	Region     string `json:"region,omitempty"`
	APIBase    string `json:"api_base,omitempty"`
	// Checked says a request was sent; without it the answer is the
	// router's view (in rotation or cooling down).
	Checked          bool       `json:"checked"`
	CoolingDownUntil *time.Time `json:"cooling_down_until,omitempty"`
	Error            string     `json:"error,omitempty"`
}

type healthReport struct {
	Healthy        []endpointHealth `json:"healthy_endpoints"`
	Unhealthy      []endpointHealth `json:"unhealthy_endpoints"`
	HealthyCount   int              `json:"healthy_count"`
	UnhealthyCount int              `json:"unhealthy_count"`
	// Redis is the shared Redis server's state, when one is configured.
	Redis *linkHealth `json:"redis,omitempty"`
	// KeyChanges is the PostgreSQL key changes listener's state, when
	// keys live in PostgreSQL.
	KeyChanges *linkHealth `json:"key_changes_listener,omitempty"`
}

// linkHealth says whether a connection through which the gateways share
// what they know (Redis, PostgreSQL's notifications) works right now, and
// what that means.
type linkHealth struct {
	Status string `json:"status"` // "connected" or "unreachable"
	Detail string `json:"detail"`
}

// redisState is the Redis part of /health; nil without Redis.
func (s *Server) redisState() *linkHealth {
	if s.redisUp == nil {
		return nil
	}
	if s.redisUp() {
		return &linkHealth{Status: "connected", Detail: "limits, key changes and cooldowns are shared with the other gateways"}
	}
	return &linkHealth{Status: "unreachable", Detail: "serving with this gateway's own limits until Redis answers again"}
}

// keyListenerState is the key changes listener's part of /health; nil
// when none runs.
func (s *Server) keyListenerState() *linkHealth {
	if s.keyListenerUp == nil {
		return nil
	}
	if s.keyListenerUp() {
		return &linkHealth{Status: "connected", Detail: "keys, teams and users changed through other gateways are dropped from the cache at once"}
	}
	return &linkHealth{Status: "unreachable", Detail: "connecting to PostgreSQL again; until then other gateways' key changes show here when the cached copy expires (user_api_key_cache_ttl)"}
}

// health reports every deployment as healthy or not, as LiteLLM's /health
// does. By default it costs nothing: a deployment cooling down after
// failures is unhealthy. With general_settings.health_check_upstream, each
// chat deployment also answers a one-token request, in parallel.
func (s *Server) health(w http.ResponseWriter, r *http.Request) error {
	var all []*router.Deployment
	for _, name := range s.router.Names() {
		all = append(all, s.router.Deployments(name)...)
	}
	results := make([]endpointHealth, len(all))
	upstream := s.settingsOf(r.Context()).HealthCheckUpstream
	var wg sync.WaitGroup
	for i, d := range all {
		results[i] = s.routerView(d)
		if upstream && d.Broken == nil && (d.API == "" || d.API == translate.APIChat) {
			wg.Go(func() { s.checkDeployment(r.Context(), d, &results[i]) })
		}
	}
	wg.Wait()
	report := healthReport{Healthy: []endpointHealth{}, Unhealthy: []endpointHealth{}}
	for _, e := range results {
		if e.Error == "" {
			report.Healthy = append(report.Healthy, e)
		} else {
			report.Unhealthy = append(report.Unhealthy, e)
		}
	}
	report.HealthyCount, report.UnhealthyCount = len(report.Healthy), len(report.Unhealthy)
	report.Redis = s.redisState()
	report.KeyChanges = s.keyListenerState()
	writeJSON(w, http.StatusOK, report)
	return nil
}

func (s *Server) routerView(d *router.Deployment) endpointHealth {
	e := endpointHealth{ModelName: d.Name, Deployment: d.ID, Model: "bedrock/" + d.BaseModel, ModelID: d.ModelID}
	if d.Client != nil {
		e.Region, e.APIBase = d.Client.Region(), d.Client.Endpoint()
	}
	if d.Broken != nil {
		e.Error = "cannot be built: " + strings.ReplaceAll(d.Broken.Error(), "\n", "; ")
		return e
	}
	if cooling, until := s.router.CoolingDown(d); cooling {
		e.CoolingDownUntil = &until
		e.Error = "cooling down after failures"
	}
	return e
}

// checkDeployment sends d the smallest chat request there is, through the
// path real requests take, and notes what went wrong, if anything.
func (s *Server) checkDeployment(ctx context.Context, d *router.Deployment, e *endpointHealth) {
	ctx, cancel := context.WithTimeout(ctx, healthCheckTimeout)
	defer cancel()
	text, one := "ping", 1
	req := &openai.ChatRequest{
		Model:     d.Name,
		Messages:  []openai.Message{{Role: "user", Content: openai.Content{Text: &text}}},
		MaxTokens: &one,
	}
	meta := translate.ResponseMeta{ID: "health-check", Created: s.now().Unix(), Model: d.BaseModel}
	_, err := s.openChat(ctx, s.log.With("deployment", d.ID, "health_check", true), d, req, meta)
	e.Checked = true
	if err != nil {
		e.Error = clientError(err).Message
		return
	}
	e.Error, e.CoolingDownUntil = "", nil // it answers: back in shape
}
