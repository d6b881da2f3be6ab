package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/redis/go-redis/v9"

	"github.com/strata-gateway/strata/internal/emulator"
	"github.com/strata-gateway/strata/internal/store/storetest"
)

// testRedisURL is the Redis server scripts/test starts, on database db:
// each test takes its own, so that one's cooldowns and counts never
// reach another's gateways.
func testRedisURL(t *testing.T, db int) string {
	t.Helper()
	raw := os.Getenv("STRATA_TEST_REDIS_URL")
	if raw == "" {
		t.Fatal("STRATA_TEST_REDIS_URL is unset: run the tests with scripts/test, which starts a Redis server")
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + strconv.Itoa(db)
	opts, err := redis.ParseURL(u.String())
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	if err := c.FlushDB(context.Background()).Err(); err != nil {
		t.Fatalf("Redis at %s: %v", raw, err)
	}
	return u.String()
}

// redisSettings points the gateways at a Redis server.
func redisSettings(redisURL string) string {
	return "router_settings:\n  redis_url: " + redisURL + "\n"
}

// pair is two gateways on one database and one Redis, as behind a load
// balancer.
func startPair(t *testing.T, em *emulator.Emulator, config string) (a, b *keyGateway) {
	t.Helper()
	a = &keyGateway{gateway: startGateway(t, config, keysEnv...), t: t, em: em}
	b = &keyGateway{gateway: startGateway(t, config, keysEnv...), t: t, em: em}
	return a, b
}

// health is GET /health's Redis part, with the master key.
func redisHealth(t *testing.T, g *keyGateway) string {
	t.Helper()
	var h struct {
		Redis *struct {
			Status string `json:"status"`
		} `json:"redis"`
	}
	status, raw := g.call("GET", "/health", "Authorization", testMasterKey, "", &h)
	if status != http.StatusOK || h.Redis == nil {
		t.Fatalf("GET /health: %d %s", status, raw)
	}
	return h.Redis.Status
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// awayFromMinuteEnd waits, if needed, for a new minute, so that a burst of
// requests counted in per-minute windows falls in one window.
func awayFromMinuteEnd(within time.Duration) {
	now := time.Now()
	if left := now.Truncate(time.Minute).Add(time.Minute).Sub(now); left < within {
		time.Sleep(left + 100*time.Millisecond)
	}
}

// hasSharedFigures says whether GET /global/deployments shows figures
// shared through Redis for bedrock-claude's deployment.
func hasSharedFigures(t *testing.T, g *keyGateway) bool {
	t.Helper()
	var out struct {
		Data []struct {
			Deployment string          `json:"deployment"`
			Shared     json.RawMessage `json:"shared"`
		} `json:"data"`
	}
	status, raw := g.call("GET", "/global/deployments", "Authorization", testMasterKey, "", &out)
	if status != http.StatusOK {
		t.Fatalf("GET /global/deployments: %d %s", status, raw)
	}
	for _, d := range out.Data {
		if d.Deployment == "bedrock-claude#1" {
			return len(d.Shared) > 0
		}
	}
	t.Fatalf("no bedrock-claude#1 in %s", raw)
	return false
}

// With rpm_limit 10 and requests spread over two gateways, ten pass in
// the minute and the rest get 429, whichever gateway they reach.
func TestInstancesShareRateLimits(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	cfg := keysConfig(endpoint, storetest.PostgresURL(t), redisSettings(testRedisURL(t, 1)))
	a, b := startPair(t, em, cfg)
	var k generated
	a.admin("POST", "/key/generate", `{"rpm_limit":10,"key_alias":"shared-rpm"}`, &k)

	// Thirty requests at once, alternating between the gateways.
	awayFromMinuteEnd(30 * time.Second)
	before := len(em.Calls())
	var mu sync.Mutex
	passed, refused := map[string]int{}, map[string]int{}
	var wg sync.WaitGroup
	for i := range 30 {
		g, name := a, "a"
		if i%2 == 1 {
			g, name = b, "b"
		}
		wg.Go(func() {
			_, err := g.chatAs(k.Key, "bedrock-claude")
			var apiErr *openai.Error
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				passed[name]++
			case errors.As(err, &apiErr) && apiErr.StatusCode == 429 && apiErr.Code == "rate_limit_exceeded":
				refused[name]++
			default:
				t.Errorf("request %d on %s: %v", i, name, err)
			}
		})
	}
	wg.Wait()
	if passed["a"]+passed["b"] != 10 {
		t.Errorf("passed %v, want 10 in all", passed)
	}
	if refused["a"] == 0 || refused["b"] == 0 || refused["a"]+refused["b"] != 20 {
		t.Errorf("refused %v, want 20, on both gateways", refused)
	}
	if n := len(em.Calls()) - before; n != 10 {
		t.Errorf("%d calls reached Bedrock, want 10", n)
	}

	// max_parallel_requests too: a slot held on a is refused on b.
	var p generated
	a.admin("POST", "/key/generate", `{"max_parallel_requests":1,"key_alias":"shared-parallel"}`, &p)
	em.Fault(emulator.Fault{Kind: emulator.FaultSlow, Delay: 3 * time.Second})
	held := make(chan error, 1)
	go func() {
		_, err := a.chatAs(p.Key, "bedrock-claude")
		held <- err
	}()
	waitFor(t, 10*time.Second, "the slow request reaching Bedrock", func() bool { return len(em.Calls()) > before+10 })
	b.refusedChat(p.Key, "bedrock-claude", 429, "rate_limit_exceeded", "max_parallel_requests")
	if err := <-held; err != nil {
		t.Fatalf("the request holding the slot: %v", err)
	}
	// The slot is given back once a has written the answer: b takes it then.
	waitFor(t, 5*time.Second, "the slot given back on a taken on b", func() bool {
		_, err := b.chatAs(p.Key, "bedrock-claude")
		return err == nil
	})
}

// A key blocked, updated or deleted through one gateway is refused by the
// other within a second, long before its cached copy would expire.
func TestInstancesShareKeyChanges(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	// Cached copies would be trusted for five minutes: only a message reaches b in time.
	cfg := keysConfig(endpoint, storetest.PostgresURL(t), "  user_api_key_cache_ttl: 300\n"+redisSettings(testRedisURL(t, 2)))
	a, b := startPair(t, em, cfg)
	var k generated
	a.admin("POST", "/key/generate", `{"key_alias":"shared-block"}`, &k)
	b.mustChatAs(k.Key, "bedrock-claude") // b has it cached now

	a.admin("POST", "/key/block", `{"key":"`+k.Token+`"}`, nil)
	took := waitFor(t, time.Second, "the key blocked on a refused on b", func() bool {
		_, err := b.chatAs(k.Key, "bedrock-claude")
		var apiErr *openai.Error
		return errors.As(err, &apiErr) && apiErr.StatusCode == 401
	})
	t.Logf("blocked on a, refused on b after %s", took)

	a.admin("POST", "/key/unblock", `{"key":"`+k.Token+`"}`, nil)
	waitFor(t, time.Second, "the key unblocked on a served on b", func() bool {
		_, err := b.chatAs(k.Key, "bedrock-claude")
		return err == nil
	})
	// Updated on b to one model: a refuses the other at once.
	b.admin("POST", "/key/update", `{"key":"`+k.Token+`","models":["bedrock-other"]}`, nil)
	waitFor(t, time.Second, "the key's new models on a", func() bool {
		_, err := a.chatAs(k.Key, "bedrock-claude")
		var apiErr *openai.Error
		return errors.As(err, &apiErr) && apiErr.StatusCode == 403
	})
	a.mustChatAs(k.Key, "bedrock-other")
	b.admin("POST", "/key/delete", `{"keys":["`+k.Key+`"]}`, nil)
	waitFor(t, time.Second, "the key deleted on b refused on a", func() bool {
		_, err := a.chatAs(k.Key, "bedrock-other")
		var apiErr *openai.Error
		return errors.As(err, &apiErr) && apiErr.StatusCode == 401
	})
}

// A deployment cooled down by one gateway is skipped by the other.
func TestInstancesShareCooldowns(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	cfg := routingConfig(endpoint, []deployment{
		{"bedrock-claude", claudeModel, "claude-east", "weight: 9"},
		{"bedrock-claude", claudeModel, "claude-west", "weight: 1"},
	}, redisSettings(testRedisURL(t, 3))+"  num_retries: 1\n  cooldown_time: 120\n")
	a := startGateway(t, cfg, seedEnv...)
	b := startGateway(t, cfg, seedEnv...)
	em.Fault(emulator.Fault{Model: "claude-east", Kind: emulator.FaultThrottling, Times: -1})

	// a sends until east is throttled once and cools down.
	for i := 0; count(callsTo(em), "claude-east") == 0; i++ {
		if i == 50 {
			t.Fatal("east never called in 50 requests at weight 9 of 10")
		}
		client := a.client()
		if _, err := client.Chat.Completions.New(ctxTimeout(t), hi("bedrock-claude")); err != nil {
			t.Fatalf("request %d on a: %v", i, err)
		}
	}
	waitFor(t, time.Second, "b seeing a's cooldown in /health", func() bool {
		var h struct {
			Unhealthy []struct {
				Deployment string `json:"deployment"`
			} `json:"unhealthy_endpoints"`
		}
		resp, err := http.Get(b.URL + "/health")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		_ = json.NewDecoder(resp.Body).Decode(&h)
		return len(h.Unhealthy) == 1 && h.Unhealthy[0].Deployment == "bedrock-claude#1"
	})
	for i := range 20 {
		var resp *http.Response
		client := b.client()
		if _, err := client.Chat.Completions.New(ctxTimeout(t), hi("bedrock-claude"), option.WithResponseInto(&resp)); err != nil {
			t.Fatalf("request %d on b: %v", i, err)
		}
		if d := resp.Header.Get("X-Strata-Deployment"); d != "bedrock-claude#2" {
			t.Fatalf("request %d on b served by %q, which a cooled down", i, d)
		}
	}
	if n := count(callsTo(em), "claude-east"); n != 1 {
		t.Errorf("claude-east was called %d times, want the 1 that cooled it down", n)
	}
}

// redisProcess is a redis-server this test starts, stops and starts
// again on the same port.
type redisProcess struct {
	bin, dir string
	port     int
	cmd      *exec.Cmd
}

func startRedisProcess(t *testing.T) *redisProcess {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		bin = "/usr/bin/redis-server"
		if _, err := os.Stat(bin); err != nil {
			t.Fatal("redis-server is not in PATH nor /usr/bin: install it (apt-get install redis-server), or run scripts/test")
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	r := &redisProcess{bin: bin, dir: t.TempDir(), port: port}
	r.start(t)
	t.Cleanup(r.stop)
	return r
}

func (r *redisProcess) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func (r *redisProcess) start(t *testing.T) {
	t.Helper()
	r.cmd = exec.Command(r.bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(r.port), "--dir", r.dir,
		"--save", "", "--appendonly", "no")
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", r.port), MaxRetries: -1})
	defer c.Close()
	waitFor(t, 10*time.Second, "redis-server answering", func() bool { return c.Ping(context.Background()).Err() == nil })
}

func (r *redisProcess) stop() {
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
		r.cmd = nil
	}
}

// Redis going away mid-traffic: both gateways keep serving on their own
// limits and say so in /health, their logs and metrics; when it comes
// back they share again.
func TestInstancesRideOutRedisOutage(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	rs := startRedisProcess(t)
	cfg := keysConfig(endpoint, storetest.PostgresURL(t), redisSettings(rs.url()))
	a, b := startPair(t, em, cfg)
	var k generated
	a.admin("POST", "/key/generate", `{"rpm_limit":1000,"key_alias":"outage"}`, &k)
	for _, g := range []*keyGateway{a, b} {
		if s := redisHealth(t, g); s != "connected" {
			t.Fatalf("/health says Redis is %q before the outage", s)
		}
		g.mustChatAs(k.Key, "bedrock-claude")
	}

	rs.stop()
	for _, g := range []*keyGateway{a, b} {
		// Requests are served all along.
		waitFor(t, 10*time.Second, "/health saying Redis is unreachable", func() bool {
			g.mustChatAs(k.Key, "bedrock-claude")
			return redisHealth(t, g) == "unreachable"
		})
		g.mustChatAs(k.Key, "bedrock-claude")
		waitFor(t, 10*time.Second, "routing on the gateway's own figures", func() bool { return !hasSharedFigures(t, g) })
		if v := scrape(t, g.gateway).value(t, "strata_redis_up"); v != 0 {
			t.Errorf("strata_redis_up = %v during the outage", v)
		}
		waitForLog(t, g.gateway, "Redis unreachable")
	}
	for _, g := range []*keyGateway{a, b} {
		if n := strings.Count(g.logs.String(), "Redis unreachable"); n != 1 {
			t.Errorf("the outage was logged %d times, want once", n)
		}
	}

	rs.start(t)
	for _, g := range []*keyGateway{a, b} {
		waitFor(t, 10*time.Second, "/health saying Redis is connected again", func() bool {
			return redisHealth(t, g) == "connected"
		})
		if v := scrape(t, g.gateway).value(t, "strata_redis_up"); v != 1 {
			t.Errorf("strata_redis_up = %v after the outage", v)
		}
		waitFor(t, 10*time.Second, "routing on the shared figures again", func() bool { return hasSharedFigures(t, g) })
		waitForLog(t, g.gateway, "Redis answers again")
	}
	// Shared again: rpm_limit 2 over both gateways lets 2 through.
	var two generated
	b.admin("POST", "/key/generate", `{"rpm_limit":2,"key_alias":"after-outage"}`, &two)
	awayFromMinuteEnd(10 * time.Second)
	passed := 0
	for i := range 6 {
		g := a
		if i%2 == 1 {
			g = b
		}
		if _, err := g.chatAs(two.Key, "bedrock-claude"); err == nil {
			passed++
		}
	}
	if passed != 2 {
		t.Errorf("%d requests passed rpm_limit 2 over two gateways after Redis came back, want 2", passed)
	}
}

// A deployment's own rpm holds across gateways: with rpm 10 on one and
// requests spread over two gateways, ten reach it in the minute; the rest
// go to the group's other deployment, or get 429 when it has none.
func TestInstancesShareDeploymentRPM(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	cfg := routingConfig(endpoint, []deployment{
		{"bedrock-claude", claudeModel, "claude-alone", "rpm: 10"},
		// simple-shuffle weighs by rpm: east while it has room, then west.
		{"bedrock-pair", claudeModel, "claude-east", "rpm: 3"},
		{"bedrock-pair", claudeModel, "claude-west", ""},
		{"bedrock-one", claudeModel, "claude-one", "max_parallel_requests: 1"},
	}, redisSettings(testRedisURL(t, 4)))
	a := startGateway(t, cfg, seedEnv...)
	b := startGateway(t, cfg, seedEnv...)

	awayFromMinuteEnd(30 * time.Second)
	var mu sync.Mutex
	passed, refused := map[string]int{}, map[string]int{}
	var wg sync.WaitGroup
	for i := range 30 {
		g, name := a, "a"
		if i%2 == 1 {
			g, name = b, "b"
		}
		wg.Go(func() {
			client := g.client()
			_, err := client.Chat.Completions.New(ctxTimeout(t), hi("bedrock-claude"))
			var apiErr *openai.Error
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				passed[name]++
			case errors.As(err, &apiErr) && apiErr.StatusCode == 429 && apiErr.Code == "rate_limit_exceeded":
				refused[name]++
			default:
				t.Errorf("request %d on %s: %v", i, name, err)
			}
		})
	}
	wg.Wait()
	if n := count(callsTo(em), "claude-alone"); n != 10 {
		t.Errorf("%d calls reached the deployment with rpm 10, want 10", n)
	}
	if passed["a"]+passed["b"] != 10 || refused["a"] == 0 || refused["b"] == 0 || refused["a"]+refused["b"] != 20 {
		t.Errorf("passed %v and refused %v, want 10 and 20, refused on both gateways", passed, refused)
	}

	for i := range 12 {
		g := a
		if i%2 == 1 {
			g = b
		}
		client := g.client()
		if _, err := client.Chat.Completions.New(ctxTimeout(t), hi("bedrock-pair")); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	calls := callsTo(em)
	if east, west := count(calls, "claude-east"), count(calls, "claude-west"); east != 3 || west != 9 {
		t.Errorf("east served %d and west %d, want 3 (its rpm over both gateways) and 9", east, west)
	}

	// max_parallel_requests 1: a stream held open through a takes the only
	// slot; b refuses until it ends.
	release := make(chan struct{})
	em.Fault(emulator.Fault{Model: "claude-one", Kind: emulator.FaultStreamStall, AfterEvents: 2, Until: release})
	held := make(chan error, 1)
	go func() {
		client := a.client()
		s := client.Chat.Completions.NewStreaming(ctxTimeout(t), hi("bedrock-one"))
		for s.Next() {
		}
		held <- s.Err()
	}()
	waitFor(t, 10*time.Second, "the held stream reaching Bedrock", func() bool { return count(callsTo(em), "claude-one") == 1 })
	client := b.client()
	_, err := client.Chat.Completions.New(ctxTimeout(t), hi("bedrock-one"))
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.Response.Header.Get("Retry-After") != "1" {
		t.Fatalf("b with the only slot held on a: %v, want 429 with Retry-After 1", err)
	}
	close(release)
	if err := <-held; err != nil {
		t.Fatalf("the held stream: %v", err)
	}
	waitFor(t, 5*time.Second, "the slot given back on a taken on b", func() bool {
		_, err := client.Chat.Completions.New(ctxTimeout(t), hi("bedrock-one"))
		return err == nil
	})
	if n := count(callsTo(em), "claude-one"); n != 2 {
		t.Errorf("claude-one was called %d times, want 2: the refused request never reached it", n)
	}
}

// Usage-based routing on one gateway steers away from the deployment the
// other gateway loaded: the gateways share the tokens each deployment used
// through Redis, and each reads them from its own copy.
func TestInstancesShareUsageBasedRouting(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	cfg := routingConfig(endpoint, []deployment{
		{"bedrock-claude", claudeModel, "claude-east", ""},
		{"bedrock-claude", claudeModel, "claude-west", ""},
	}, redisSettings(testRedisURL(t, 5))+"  routing_strategy: usage-based-routing\n")
	a := startGateway(t, cfg, seedEnv...)
	b := startGateway(t, cfg, seedEnv...)

	// A 2,000-word prompt through a: about 2,000 tokens on one deployment,
	// early enough in a minute that they count in full while the test runs.
	awayFromMinuteEnd(20 * time.Second)
	long := openai.ChatCompletionNewParams{Model: "bedrock-claude",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(strings.Repeat("word ", 2000))}}
	var resp *http.Response
	client := a.client()
	if _, err := client.Chat.Completions.New(ctxTimeout(t), long, option.WithResponseInto(&resp)); err != nil {
		t.Fatal(err)
	}
	loaded := resp.Header.Get("X-Strata-Deployment")
	waitFor(t, 10*time.Second, "b seeing a's tokens on "+loaded, func() bool {
		var out struct {
			Data []struct {
				Deployment string `json:"deployment"`
				Tokens     int64  `json:"tokens"`
				Shared     *struct {
					Tokens int64 `json:"tokens"`
				} `json:"shared"`
			} `json:"data"`
		}
		r, err := http.Get(b.URL + "/global/deployments")
		if err != nil {
			return false
		}
		defer r.Body.Close()
		if err := json.NewDecoder(r.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		for _, d := range out.Data {
			if d.Deployment == loaded {
				if d.Tokens != 0 {
					t.Fatalf("b counts %d tokens of its own on %s, which it never called", d.Tokens, loaded)
				}
				return d.Shared != nil && d.Shared.Tokens >= 2000
			}
		}
		return false
	})
	before := len(em.Calls())
	for i := range 5 {
		client := b.client()
		if _, err := client.Chat.Completions.New(ctxTimeout(t), hi("bedrock-claude"), option.WithResponseInto(&resp)); err != nil {
			t.Fatalf("request %d on b: %v", i, err)
		}
		if d := resp.Header.Get("X-Strata-Deployment"); d == loaded {
			t.Fatalf("request %d on b went to %s, which a loaded with 2,000 tokens", i, d)
		}
	}
	// What reached Bedrock from b: all on the other deployment.
	loadedModel := map[string]string{"bedrock-claude#1": "claude-east", "bedrock-claude#2": "claude-west"}[loaded]
	if n := count(callsTo(em)[before:], loadedModel); n != 0 {
		t.Errorf("%d of b's calls reached %s", n, loadedModel)
	}
}
