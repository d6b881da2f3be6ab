// Package app wires Strata together: it parses the command line, loads the
// config, builds every deployment's Bedrock client once, and runs the HTTP
// servers until the context ends. It holds no request logic of its own.
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"go.opentelemetry.io/otel/trace"

	"github.com/strata-gateway/strata/internal/bedrock"
	"github.com/strata-gateway/strata/internal/config"
	"github.com/strata-gateway/strata/internal/fetch"
	"github.com/strata-gateway/strata/internal/metrics"
	"github.com/strata-gateway/strata/internal/router"
	"github.com/strata-gateway/strata/internal/server"
	"github.com/strata-gateway/strata/internal/telemetry"
	"github.com/strata-gateway/strata/internal/translate"
)

// Version is set at build time with -ldflags "-X .../internal/app.Version=v1.2.3".
var Version = ""

func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// ErrUsage marks command-line mistakes; main exits with status 2 for them.
var ErrUsage = errors.New("usage")

const usage = `Strata: an OpenAI-compatible gateway for AWS Bedrock.

Usage:
  strata --config config.yaml [--host 0.0.0.0] [--port 4000]
  strata --model bedrock/<model-id> [--host 0.0.0.0] [--port 4000]
  strata check --config config.yaml  report every problem in the file, then exit (1 if any)
  strata demo [--port 4000]        the gateway in front of the built-in Bedrock emulator
  strata emulator [--port 4001]    the Bedrock runtime emulator alone
  strata --version

Flags:
`

// Run runs the strata command with args (without the program name) until
// ctx ends. Output for people goes to stdout; logs go to stderr.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "demo":
			return runDemo(ctx, args[1:], stdout, stderr)
		case "emulator":
			return runEmulator(ctx, args[1:], stdout, stderr)
		case "check":
			return runCheck(ctx, args[1:], stdout, stderr)
		}
	}
	fs := flag.NewFlagSet("strata", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "path to the LiteLLM-format config file")
	model := fs.String("model", "", "serve one model with no config file: bedrock/<model-id>")
	host := fs.String("host", "0.0.0.0", "address to listen on")
	port := fs.Int("port", 4000, "port to listen on (0 picks a free one)")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	showVersion := fs.Bool("version", false, "print the version and exit")
	shutdownTimeout := fs.Duration("shutdown-timeout", DefaultShutdownTimeout, "on SIGINT or SIGTERM, how long requests in flight may take to finish before they are cancelled")
	pprofAddr := fs.String("pprof-addr", "", "serve Go's pprof profiles on this address, e.g. 127.0.0.1:6060 (off by default)")
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fmt.Fprint(stdout, usage)
			fs.PrintDefaults()
			return nil
		}
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	if *showVersion {
		fmt.Fprintln(stdout, "strata", version())
		return nil
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q (see strata --help)", ErrUsage, fs.Arg(0))
	}
	log, err := newLogger(stderr, *logFormat, *logLevel)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	if err := startPprof(ctx, *pprofAddr, log); err != nil {
		return err
	}

	var cfg *config.Config
	switch {
	case *configPath != "" && *model != "":
		return fmt.Errorf("%w: give --config or --model, not both", ErrUsage)
	case *configPath != "":
		cfg, err = config.Load(*configPath, os.LookupEnv)
	case *model != "":
		cfg, err = config.FromModelFlag(*model)
	default:
		return fmt.Errorf("%w: give --config config.yaml or --model bedrock/<model-id> (see strata --help)", ErrUsage)
	}
	if err != nil {
		return err
	}
	applyAccessEnv(cfg, os.LookupEnv)
	return serve(ctx, cfg, net.JoinHostPort(*host, strconv.Itoa(*port)), log, *shutdownTimeout)
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// Serve builds the gateway for cfg and serves it on addr until ctx ends.
func Serve(ctx context.Context, cfg *config.Config, addr string, log *slog.Logger) error {
	return serve(ctx, cfg, addr, log, DefaultShutdownTimeout)
}

// serve is Serve with the time requests in flight get to finish once ctx ends.
func serve(ctx context.Context, cfg *config.Config, addr string, log *slog.Logger, shutdownTimeout time.Duration) error {
	deployments, err := prepare(ctx, cfg, log)
	if err != nil {
		return err
	}
	tracing, err := telemetry.New(ctx, cfg.Settings.Traces, os.Getenv, version(), log)
	if err != nil {
		return err
	}
	defer func() {
		// Every request has ended: send the spans still buffered.
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := tracing.Shutdown(ctx); err != nil {
			log.Warn("traces still buffered at shutdown could not be sent", "error", err.Error())
		}
	}()
	registry, m, err := newMetrics()
	if err != nil {
		return err
	}
	shared, err := openShared(ctx, cfg, registry, log)
	if err != nil {
		return err
	}
	if shared != nil {
		defer shared.Close()
	}
	acc, err := openAccess(ctx, cfg, log, registry, shared)
	if err != nil {
		return err
	}
	defer acc.Close()
	responses, closeResponses := openResponses(ctx, cfg, acc.store, log)
	defer closeResponses()
	stopPruning := startPruningResponses(ctx, responses, time.Now, log)
	defer stopPruning()
	rt, err := newRouter(cfg, deployments, log, m, tracing.Tracer)
	if err != nil {
		return err
	}
	if shared != nil {
		shared.ShareCooldowns(ctx, rt)
		shared.ShareRouting(ctx, rt, 0)
	}
	counter, stopCounter := sharedCounter(shared, log)
	acct := newAccounting(acc.store, gatewayBudget(cfg.Settings), cfg.Settings.SpendWriteInterval, m, log, counter)
	defer func() {
		// Every request has ended: write the spend rows still buffered,
		// and send the last counts to Redis.
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		acct.Close(ctx, log)
		stopCounter(ctx)
	}()
	maxInFlight, maxBodyBytes := servingLimits(cfg.Settings)
	var reload server.ReloadFunc
	var rl *reloader
	if cfg.Path != "" && cfg.Path != demoConfigPath {
		rl = &reloader{path: cfg.Path, current: cfg, log: log, metrics: m, router: rt, limiter: acct.limiter, auth: acc.auth, tracer: tracing.Tracer, lookupEnv: os.LookupEnv}
		reload = rl.reload
	}
	srv := server.New(server.Options{
		Router:               rt,
		Logger:               log,
		Metrics:              m,
		Gatherer:             registry,
		HealthCheckUpstream:  cfg.Settings.HealthCheckUpstream,
		MaxRequestBytes:      cfg.Settings.MaxRequestBytes,
		Auth:                 acc.auth,
		MetricsNeedAuth:      cfg.Settings.RequireAuthForMetrics,
		Admin:                acc.admin,
		MaxInFlight:          maxInFlight,
		MaxBodyBytesInFlight: maxBodyBytes,
		RequestBodyTimeout:   cfg.Settings.RequestBodyTimeout,
		Responses:            responses,
		StreamWriteTimeout:   cfg.Settings.StreamWriteTimeout,
		Fetcher: fetch.New(fetch.Options{
			AllowedHosts:      cfg.Settings.URLAllowedHosts,
			DisableValidation: cfg.Settings.URLValidationOff,
		}),
		Limiter:       acct.limiter,
		CallerOf:      (&callers{}).of,
		SpendLog:      acct.spendLog(),
		SpendStore:    acc.store,
		StorePrompts:  cfg.Settings.StorePrompts,
		Tracer:        tracing.Tracer,
		TraceMessages: tracing.MessageLogging,
		Reload:        reload,
		RedisUp:       redisUp(shared),
		KeyListenerUp: acc.listening(),
	})
	// Runs before the spend log's final flush: requests cut at the
	// shutdown deadline get a last moment to end and queue their rows.
	defer waitIdle(srv, lateRequestsWait)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	log.Info("serving limits", "global_max_parallel_requests", maxInFlight,
		"max_request_bodies_in_flight_mb", float64(maxBodyBytes)/(1<<20),
		"request_body_timeout_s", cfg.Settings.RequestBodyTimeout.Seconds(),
		"stream_write_timeout_s", cfg.Settings.StreamWriteTimeout.Seconds())
	log.Info("strata listening", "url", "http://"+ln.Addr().String(), "models", strings.Join(rt.Names(), ","), "version", version())
	if rl != nil {
		rl.server = srv
		go answerReloads(ctx, rl)
	} else {
		go ignoreReloads(ctx, log)
	}
	return serveAndStop(ctx, ln, srv, log, shutdownTimeout, cfg.Settings.ShutdownDrainDelay)
}

// prepare does what startup does before it opens anything: it exports
// environment_variables, logs the config's warnings and notices, and builds
// every deployment. It neither listens, opens a database nor calls AWS, so
// that strata check runs it too.
func prepare(ctx context.Context, cfg *config.Config, log *slog.Logger) ([]*router.Deployment, error) {
	for k, v := range cfg.Environment {
		if err := os.Setenv(k, v.Value()); err != nil {
			return nil, fmt.Errorf("environment_variables.%s: %w", k, err)
		}
	}
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	for _, n := range cfg.Notices {
		log.Info(n)
	}
	return buildDeployments(ctx, cfg, log)
}

// newRouter routes between deployments as router_settings say; m and
// tracer may be nil.
func newRouter(cfg *config.Config, deployments []*router.Deployment, log *slog.Logger, m *metrics.Metrics, tracer trace.Tracer) (*router.Router, error) {
	opts := routerOptions(cfg.Settings.Routing, log, m)
	opts.Tracer = tracer
	opts.Unserved = unservedNames(cfg.Unserved)
	return router.New(deployments, opts)
}

// DefaultShutdownTimeout is how long a stopping server lets requests in
// flight finish.
const DefaultShutdownTimeout = 30 * time.Second

// serveUntilDone is serveGracefully with the default shutdown timeout.
func serveUntilDone(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	return serveGracefully(ctx, ln, h, log, DefaultShutdownTimeout)
}

// serveGracefully serves on ln until ctx ends, then stops: see stop.
func serveGracefully(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger, grace time.Duration) error {
	return serveAndStop(ctx, ln, h, log, grace, 0)
}

// stoppable is what stop asks of the gateway's HTTP surface.
type stoppable interface {
	Drain()
	WaitIdle(ctx context.Context) error
	Active() int64
	CutRequests() int64
}

// cutGrace is how long requests cut at the shutdown deadline get to say so
// (a stream's error event, a 503) and write their access log lines, before
// their connections are closed under them, and again after.
const cutGrace = 2 * time.Second

// lateRequestsWait is how long, after the server stopped, the last spend
// rows are waited for before the final flush; a row that comes even later
// is written on its own (see spend.Batcher.Add).
const lateRequestsWait = 5 * time.Second

// serveAndStop serves on ln until ctx ends, then stops in steps. First,
// for drain, /health/readiness answers 503 while everything is still
// served, so that load balancers stop sending. Then the listener closes
// and requests and streams in flight get grace to finish. Those still
// running are cut: their Bedrock calls are cancelled and they tell their
// clients the gateway is shutting down. The count of cut requests is
// logged and makes the returned error: a stop that cut answers is not a
// clean one.
func serveAndStop(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger, grace, drain time.Duration) error {
	requests, cancelRequests := context.WithCancelCause(context.Background())
	defer cancelRequests(nil)
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return requests },
		ConnContext:       server.ConnContext,
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(server.GuardListener(ln)) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	gw, _ := h.(stoppable)
	if gw != nil && drain > 0 {
		gw.Drain()
		// Answers from now on say Connection: close, so that clients come
		// back through the load balancer.
		hs.SetKeepAlivesEnabled(false)
		log.Info("shutting down: /health/readiness answers 503; still serving for the drain delay", "shutdown_drain_delay_s", drain.Seconds())
		time.Sleep(drain)
	} else if gw != nil {
		gw.Drain()
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	// The listener is closed before the log line says so.
	lnErr := ln.Close()
	log.Info("shutting down: no new connections; waiting for requests in flight", "shutdown_timeout_s", grace.Seconds())
	err := hs.Shutdown(shutdownCtx)
	if err == nil || errors.Is(err, net.ErrClosed) && lnErr == nil {
		log.Info("shut down: every request finished")
		return nil
	}
	log.Warn("shutdown timeout reached: cutting requests still in flight", "error", err.Error())
	cancelRequests(server.ErrShuttingDown)
	if gw == nil {
		_ = hs.Close()
		return nil
	}
	// The cut requests write their error events and log lines, then
	// their connections are closed, which unblocks any write to a client
	// that stopped reading.
	waitIdle(gw, cutGrace)
	_ = hs.Close()
	waitIdle(gw, cutGrace)
	cut := gw.CutRequests()
	log.Warn("shutdown cut requests still in flight at the deadline", "cut_requests", cut, "shutdown_timeout_s", grace.Seconds())
	if left := gw.Active(); left > 0 {
		return fmt.Errorf("shutdown: %d requests still in flight after --shutdown-timeout %s were cut, %d of them had not ended when the gateway exited", cut+left, grace, left)
	}
	return fmt.Errorf("shutdown: %d requests still in flight after --shutdown-timeout %s were cut", cut, grace)
}

func waitIdle(gw stoppable, d time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	_ = gw.WaitIdle(ctx)
}

// buildDeployments makes every model entry ready to serve: credentials
// providers, signers and HTTP clients are built here, once, never per
// request. An entry that cannot be built is reported and kept as a broken
// deployment, which answers with its problems, so that the others serve;
// only a config where none can be built stops the gateway.
func buildDeployments(ctx context.Context, cfg *config.Config, log *slog.Logger) ([]*router.Deployment, error) {
	httpClient := &http.Client{Transport: bedrockTransport(ctx)}
	var errs []error
	var out []*router.Deployment
	seen := make(map[string]int)
	working := 0
	awsCredentials := bedrock.NewCredentialStore(log)
	var unpriced []string
	defer func() { warnUnpriced(log, unpriced) }()
	for i, m := range cfg.Models {
		where := fmt.Sprintf("%s: model_list[%d] (%s)", cfg.Path, i, m.Name)
		if m.Line > 0 {
			where = fmt.Sprintf("%s:%d: model_list[%d] (%s)", cfg.Path, m.Line, i, m.Name)
		}
		seen[m.Name]++
		id := fmt.Sprintf("%s#%d", m.Name, seen[m.Name])
		var d *router.Deployment
		var priced bool
		var err error
		if len(m.Problems) > 0 {
			err = m.Problems
		} else {
			d, priced, err = buildDeployment(ctx, cfg, m, id, where, httpClient, awsCredentials, log)
		}
		if err != nil {
			errs = append(errs, err)
			if len(m.Problems) > 0 {
				for _, p := range m.Problems {
					log.Error("deployment cannot be built: its requests get this error until the config is fixed", "deployment", id, "problem", p.Error())
				}
			} else {
				log.Error("deployment cannot be built: its requests get this error until the config is fixed", "deployment", id, "problem", err.Error())
			}
			out = append(out, &router.Deployment{Name: m.Name, ID: id, BaseModel: m.BaseModel, ModelID: m.ModelID, Broken: err})
			continue
		}
		working++
		if !priced {
			unpriced = append(unpriced, d.ID)
		}
		log.Debug("deployment ready", "deployment", d.ID, "bedrock_model", d.ModelID, "serves", d.API, "route", d.Route, "region", d.Client.Region(), "endpoint", d.Client.Endpoint())
		out = append(out, d)
	}
	if working == 0 && len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: model_list has no models to serve", cfg.Path)
	}
	if len(errs) > 0 {
		log.Warn(fmt.Sprintf("%d of %d deployments cannot be built and answer with their problems; the others serve", len(errs), len(out)))
	}
	return out, nil
}

// buildDeployment makes one model entry ready to serve;
// priced says whether a price is known for its model.
func buildDeployment(ctx context.Context, cfg *config.Config, m config.Model, id, where string, httpClient *http.Client, awsCredentials *bedrock.CredentialStore, log *slog.Logger) (d *router.Deployment, priced bool, err error) {
	auth, keySource := bedrock.Auth{
		AccessKeyID:      m.AWS.AccessKeyID.Value(),
		SecretAccessKey:  m.AWS.SecretAccessKey.Value(),
		SessionToken:     m.AWS.SessionToken.Value(),
		Profile:          m.AWS.ProfileName,
		Region:           m.AWS.Region,
		RoleARN:          m.AWS.RoleName,
		SessionName:      m.AWS.SessionName,
		ExternalID:       m.AWS.ExternalID,
		WebIdentityToken: m.AWS.WebIdentityToken.Value(),
		STSEndpoint:      m.AWS.STSEndpoint,
		APIKey:           m.AWS.APIKey.Value(),
	}.WithAPIKeyFromEnv(os.Getenv)
	awsCfg, err := awsCredentials.Load(ctx, id, auth)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", where, err)
	}
	client, err := bedrock.NewClient(bedrock.ClientOptions{
		Region:   awsCfg.Region,
		Endpoint: runtimeEndpoint(m.AWS.RuntimeEndpoint, awsCfg),
		// Rerank goes to the agent runtime beside the runtime endpoint,
		// unless the AWS SDKs' variable for it says otherwise.
		AgentEndpoint: agentEndpoint(m.AWS.RuntimeEndpoint),
		Credentials:   awsCfg.Credentials,
		APIKey:        auth.APIKey,
		HTTPClient:    httpClient,
	})
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", where, err)
	}
	if keySource != "" {
		log.Info("deployment calls Bedrock with a Bedrock API key (bearer token), not SigV4", "deployment", id, "key_from", keySource)
	} else {
		log.Info("deployment calls Bedrock signed with SigV4", "deployment", id, "credentials", auth.String())
	}
	dropParams := cfg.Settings.DropParams
	if m.Deployment.DropParams != nil {
		dropParams = *m.Deployment.DropParams
	}
	targets, warning, err := translate.NewTargets(m.BaseModel, m.Route, m.Params, dropParams)
	if warning != "" {
		log.Warn(where + ": " + warning)
	}
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", where, err)
	}
	price, priced, err := deploymentPrice(m)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", where, err)
	}
	d = &router.Deployment{
		Name:       m.Name,
		ID:         id,
		BaseModel:  m.BaseModel,
		ModelID:    m.ModelID,
		Policy:     deploymentPolicy(m.Deployment),
		DropParams: m.Deployment.AdditionalDropParams,
		Client:     client,
		Chat:       targets.Chat,
		API:        targets.Family.API,
		Route:      targets.Route,
		Invoke:     targets.Invoke,
		Embed:      targets.Embed,
		Image:      targets.Image,
		Rerank:     targets.Rerank,
		Price:      price,
	}
	return d, priced, nil
}

// unservedNames describes the model names only other providers have in
// the config, for the router's 400.
func unservedNames(list []config.Unserved) map[string]string {
	if len(list) == 0 {
		return nil
	}
	out := make(map[string]string, len(list))
	for _, u := range list {
		if _, dup := out[u.Name]; !dup {
			out[u.Name] = u.Describe()
		}
	}
	return out
}

// agentEndpoint is AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME for a model with
// no runtime endpoint of its own; "" lets the client derive it.
func agentEndpoint(configured string) string {
	if configured != "" {
		return ""
	}
	return os.Getenv("AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME")
}

// runtimeEndpoint picks the Bedrock runtime endpoint the way the AWS SDKs
// do: the model's own setting, then AWS_ENDPOINT_URL_BEDROCK_RUNTIME, then
// AWS_ENDPOINT_URL (loaded into the SDK config), else the regional default.
func runtimeEndpoint(configured string, awsCfg aws.Config) string {
	if configured != "" {
		return configured
	}
	if v := os.Getenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME"); v != "" {
		return v
	}
	if awsCfg.BaseEndpoint != nil {
		return *awsCfg.BaseEndpoint
	}
	return ""
}
