package metrics

import (
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics holds Strata's collectors. A nil *Metrics records nothing, so
// code under test can run without a registry.
type Metrics struct {
	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	ttft           *prometheus.HistogramVec
	tokens         *prometheus.CounterVec
	retries        *prometheus.CounterVec
	fallbacks      *prometheus.CounterVec
	cooldowns      *prometheus.CounterVec
	inFlight       *prometheus.GaugeVec
	upstreamErrors *prometheus.CounterVec
	spendDropped   prometheus.Counter
	spendCost      *prometheus.CounterVec
	refused        *prometheus.CounterVec
	shutdownCut    prometheus.Counter
	reloads        *prometheus.CounterVec
	reloadOK       prometheus.Gauge
}

// Label names.
const (
	labelModel      = "model_name"
	labelDeployment = "deployment"
	labelStatus     = "status"
)

// New builds the collectors and registers them on reg.
func New(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strata_requests_total",
			Help: "Chat requests answered, by the model_name asked for, the deployment that served (empty if none did) and HTTP status.",
		}, []string{labelModel, labelDeployment, labelStatus}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "strata_request_duration_seconds",
			Help:    "Time from a served call's start to its last byte, by deployment.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160},
		}, []string{labelModel, labelDeployment}),
		ttft: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "strata_time_to_first_token_seconds",
			Help:    "Time from a streamed call's start to its first token, by deployment.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20},
		}, []string{labelModel, labelDeployment}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strata_tokens_total",
			Help: "Tokens Bedrock reported, by deployment and direction (input or output).",
		}, []string{labelModel, labelDeployment, "direction"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strata_retries_total",
			Help: "Calls tried again after a failure, by model_name.",
		}, []string{labelModel}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strata_fallbacks_total",
			Help: "Requests moved to a fallback model_name, by the model that failed, the fallback and why (error, context_window, content_policy).",
		}, []string{labelModel, "fallback_model", "reason"}),
		cooldowns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strata_deployment_cooldowns_total",
			Help: "Times a deployment was taken out of rotation for cooldown_time.",
		}, []string{labelModel, labelDeployment}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "strata_in_flight_requests",
			Help: "Calls to Bedrock in progress, by deployment.",
		}, []string{labelModel, labelDeployment}),
		upstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strata_upstream_errors_total",
			Help: "Failed calls to Bedrock, by deployment and Bedrock exception name (or ConnectionError, StreamTruncated, CredentialsError, timeout, stream_timeout, stream_idle_timeout).",
		}, []string{labelModel, labelDeployment, "exception"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strata_refused_requests_total",
			Help: "Requests refused before their body was used, by reason: in_flight and body_memory (shed with 503), request_too_large (413), request_timeout (408), incomplete_body, unreadable_body and ambiguous_framing (400).",
		}, []string{"reason"}),
		shutdownCut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "strata_shutdown_cut_requests_total",
			Help: "Requests still in flight when the shutdown deadline passed, cut by the gateway.",
		}),
	}
	m.spendDropped = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "strata_spend_logs_dropped_total",
		Help: "Spend log rows that could not be written and were dropped (queue full, or the database unreachable for too long).",
	})
	m.spendCost = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "strata_spend_usd_total",
		Help: "What answered requests cost, in US dollars, by the model_name asked for.",
	}, []string{labelModel})
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "strata_config_reloads_total",
		Help: "Reloads of the config file (SIGHUP or POST /config/reload), by result: success, or failure when the file had problems and the running config was kept.",
	}, []string{"result"})
	m.reloadOK = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "strata_config_last_reload_successful",
		Help: "1 if the last reload of the config file succeeded (or none was tried), 0 if the file had problems and the gateway still serves an older config.",
	})
	m.reloadOK.Set(1)
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.ttft, m.tokens, m.retries, m.fallbacks, m.cooldowns, m.inFlight, m.upstreamErrors, m.spendDropped, m.spendCost, m.refused, m.shutdownCut, m.reloads, m.reloadOK} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: register: %w", err)
		}
	}
	return m, nil
}

// Reload counts a reload of the config file; ok is false when the file
// was refused.
func (m *Metrics) Reload(ok bool) {
	if m == nil {
		return
	}
	result, last := "success", 1.0
	if !ok {
		result, last = "failure", 0
	}
	m.reloads.WithLabelValues(result).Inc()
	m.reloadOK.Set(last)
}

// Request counts one answered chat request. deployment is empty when no
// deployment served it.
func (m *Metrics) Request(modelName, deployment string, status int) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(modelName, deployment, statusLabel(status)).Inc()
}

// SpendDropped counts spend log rows dropped.
func (m *Metrics) SpendDropped(n int) {
	if m == nil {
		return
	}
	m.spendDropped.Add(float64(n))
}

// Spend adds what a request cost.
func (m *Metrics) Spend(modelName string, usd float64) {
	if m == nil || usd <= 0 {
		return
	}
	m.spendCost.WithLabelValues(modelName).Add(usd)
}

// Refused counts a request refused before its body was used.
func (m *Metrics) Refused(reason string) {
	if m == nil {
		return
	}
	m.refused.WithLabelValues(reason).Inc()
}

// ShutdownCut counts a request cut by the shutdown deadline.
func (m *Metrics) ShutdownCut() {
	if m == nil {
		return
	}
	m.shutdownCut.Inc()
}

// Retry counts a call tried again.
func (m *Metrics) Retry(modelName string) {
	if m == nil {
		return
	}
	m.retries.WithLabelValues(modelName).Inc()
}

// Fallback counts a request moved from one model_name to another.
func (m *Metrics) Fallback(from, to, reason string) {
	if m == nil {
		return
	}
	m.fallbacks.WithLabelValues(from, to, reason).Inc()
}

// Deployment returns the collectors of one deployment, with their labels
// resolved once so that recording a call does not look them up.
func (m *Metrics) Deployment(modelName, id string) *Deployment {
	if m == nil {
		return nil
	}
	return &Deployment{
		m:         m,
		model:     modelName,
		id:        id,
		duration:  m.duration.WithLabelValues(modelName, id),
		ttft:      m.ttft.WithLabelValues(modelName, id),
		tokensIn:  m.tokens.WithLabelValues(modelName, id, "input"),
		tokensOut: m.tokens.WithLabelValues(modelName, id, "output"),
		cooldowns: m.cooldowns.WithLabelValues(modelName, id),
		inFlight:  m.inFlight.WithLabelValues(modelName, id),
	}
}

// Deployment records what happens on one deployment. A nil *Deployment
// records nothing.
type Deployment struct {
	m         *Metrics
	model, id string
	duration  prometheus.Observer
	ttft      prometheus.Observer
	tokensIn  prometheus.Counter
	tokensOut prometheus.Counter
	cooldowns prometheus.Counter
	inFlight  prometheus.Gauge
}

// Started marks a call in flight.
func (d *Deployment) Started() {
	if d == nil {
		return
	}
	d.inFlight.Inc()
}

// Ended marks a call no longer in flight.
func (d *Deployment) Ended() {
	if d == nil {
		return
	}
	d.inFlight.Dec()
}

// FirstToken records a stream's time to first token.
func (d *Deployment) FirstToken(ttft time.Duration) {
	if d == nil {
		return
	}
	d.ttft.Observe(ttft.Seconds())
}

// Served records how long a call that answered took, to its last byte.
func (d *Deployment) Served(duration time.Duration) {
	if d == nil {
		return
	}
	d.duration.Observe(duration.Seconds())
}

// Tokens records tokens Bedrock reported.
func (d *Deployment) Tokens(input, output int) {
	if d == nil {
		return
	}
	if input > 0 {
		d.tokensIn.Add(float64(input))
	}
	if output > 0 {
		d.tokensOut.Add(float64(output))
	}
}

// UpstreamError counts a failed call by the name of what failed.
func (d *Deployment) UpstreamError(name string) {
	if d == nil {
		return
	}
	d.m.upstreamErrors.WithLabelValues(d.model, d.id, name).Inc()
}

// Cooldown counts the deployment taken out of rotation.
func (d *Deployment) Cooldown() {
	if d == nil {
		return
	}
	d.cooldowns.Inc()
}

// statusLabel spells the usual statuses without allocating.
func statusLabel(code int) string {
	switch code {
	case 200:
		return "200"
	case 400:
		return "400"
	case 408:
		return "408"
	case 429:
		return "429"
	case 500:
		return "500"
	case 502:
		return "502"
	case 503:
		return "503"
	case 504:
		return "504"
	}
	return strconv.Itoa(code)
}
