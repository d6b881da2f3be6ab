package server

import (
	"net/http"
	"strings"
	"time"

	"github.com/strata-gateway/strata/internal/router"
)

// deploymentView is one deployment in GET /global/deployments: where it
// points (never how it authenticates) and what the router saw of it lately.
type deploymentView struct {
	ModelName        string     `json:"model_name"`
	Deployment       string     `json:"deployment"`
	Model            string     `json:"model"`
	ModelID          string     `json:"model_id"`
	API              string     `json:"mode,omitempty"`
	Region           string     `json:"region,omitempty"`
	APIBase          string     `json:"api_base,omitempty"`
	Error            string     `json:"error,omitempty"` // why it cannot be built
	CoolingDownUntil *time.Time `json:"cooling_down_until,omitempty"`
	LastFailure      *time.Time `json:"last_failure,omitempty"`
	InFlight         int64      `json:"in_flight"`
	// Moving averages; absent until measured.
	LatencyMS          *float64 `json:"latency_ms,omitempty"`
	TimeToFirstTokenMS *float64 `json:"time_to_first_token_ms,omitempty"`
	// Over the last minute.
	Requests  int64    `json:"requests"`
	Tokens    int64    `json:"tokens"`
	Succeeded int64    `json:"succeeded"`
	Failed    int64    `json:"failed"`
	ErrorRate *float64 `json:"error_rate,omitempty"` // failed / (succeeded + failed)
	RPM       int      `json:"rpm,omitempty"`
	TPM       int      `json:"tpm,omitempty"`
	// What every gateway sharing a Redis saw, as routing reads it; absent
	// without fresh figures from Redis.
	Shared *sharedView `json:"shared,omitempty"`
}

// sharedView is a deployment's figures shared by the gateways.
type sharedView struct {
	Tokens             int64    `json:"tokens"`
	LatencyMS          *float64 `json:"latency_ms,omitempty"`
	TimeToFirstTokenMS *float64 `json:"time_to_first_token_ms,omitempty"`
}

// deployments serves GET /global/deployments (master key only): every
// deployment with its cooldown, calls in flight, moving latency and the
// last minute's requests, tokens and error rate. It sends nothing to
// Bedrock; GET /health can.
func (s *Server) deployments(w http.ResponseWriter, r *http.Request) error {
	out := []deploymentView{}
	for _, name := range s.router.Names() {
		for _, d := range s.router.Deployments(name) {
			out = append(out, s.deploymentView(d))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out, "window_seconds": 60})
	return nil
}

func (s *Server) deploymentView(d *router.Deployment) deploymentView {
	v := deploymentView{ModelName: d.Name, Deployment: d.ID, Model: "bedrock/" + d.BaseModel, ModelID: d.ModelID,
		API: string(d.API), RPM: d.Policy.RPM, TPM: d.Policy.TPM}
	if d.Client != nil {
		v.Region, v.APIBase = d.Client.Region(), d.Client.Endpoint()
	}
	if d.Broken != nil {
		v.Error = "cannot be built: " + strings.ReplaceAll(d.Broken.Error(), "\n", "; ")
		return v
	}
	st := s.router.Stats(d)
	if !st.CoolingDownUntil.IsZero() {
		v.CoolingDownUntil = &st.CoolingDownUntil
	}
	if !st.LastFailure.IsZero() {
		v.LastFailure = &st.LastFailure
	}
	ms := func(d time.Duration) *float64 {
		if d <= 0 {
			return nil
		}
		f := float64(d.Microseconds()) / 1000
		return &f
	}
	v.InFlight, v.LatencyMS, v.TimeToFirstTokenMS = st.InFlight, ms(st.Latency), ms(st.TimeToFirstToken)
	v.Requests, v.Tokens, v.Succeeded, v.Failed = st.Requests, st.Tokens, st.Succeeded, st.Failed
	if sh := st.Shared; sh != nil {
		v.Shared = &sharedView{Tokens: sh.Tokens, LatencyMS: ms(sh.Latency), TimeToFirstTokenMS: ms(sh.TimeToFirstToken)}
	}
	if n := st.Succeeded + st.Failed; n > 0 {
		rate := float64(st.Failed) / float64(n)
		v.ErrorRate = &rate
	}
	return v
}
