package e2e

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/strata-gateway/strata/internal/emulator"
	"github.com/strata-gateway/strata/internal/store/storetest"
)

// chatKey sends a chat request with key and returns the status, body and headers.
func (g *keyGateway) chatKey(key, model string) (int, []byte, http.Header) {
	g.t.Helper()
	req, err := http.NewRequest(http.MethodPost, g.URL+"/v1/chat/completions",
		strings.NewReader(`{"model":"`+model+`","messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		g.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, resp.Header
}

type spendLogRow struct {
	RequestID        string         `json:"request_id"`
	APIKey           string         `json:"api_key"`
	Spend            float64        `json:"spend"`
	PromptTokens     int64          `json:"prompt_tokens"`
	CompletionTokens int64          `json:"completion_tokens"`
	StartTime        time.Time      `json:"startTime"`
	EndTime          time.Time      `json:"endTime"`
	Model            string         `json:"model"`
	ModelID          string         `json:"model_id"`
	User             string         `json:"user"`
	TeamID           string         `json:"team_id"`
	Status           string         `json:"status"`
	Metadata         map[string]any `json:"metadata"`
	Messages         *string        `json:"messages"`
}

// spendLogs reads /spend/logs with query, waiting until it holds at least
// want rows: rows are written in batches, off the request path.
func (g *keyGateway) spendLogs(query string, want int) []spendLogRow {
	g.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var rows []spendLogRow
		status, raw := g.call("GET", "/spend/logs?"+query, "Authorization", testMasterKey, "", &rows)
		switch {
		case status == http.StatusOK && (len(rows) >= want || time.Now().After(deadline)):
			return rows
		case status != http.StatusOK && time.Now().After(deadline):
			g.t.Fatalf("GET /spend/logs?%s: %d %s", query, status, raw)
		}
		// A database coming back may fail a read or two on connections it dropped.
		time.Sleep(20 * time.Millisecond)
	}
}

func nearly(a, b float64) bool { return math.Abs(a-b) <= 1e-12+1e-9*math.Abs(b) }

func TestKeySpendBudgetsAndLimits(t *testing.T) {
	for _, driver := range storetest.Drivers {
		t.Run(driver, func(t *testing.T) { testKeySpendBudgetsAndLimits(t, driver) })
	}
}

func testKeySpendBudgetsAndLimits(t *testing.T, driver string) {
	em, endpoint := bedrockEmulator(t)
	g := &keyGateway{gateway: startGateway(t, keysConfig(endpoint, storetest.URL(t, driver), "  proxy_batch_write_at: 0.05\n"), keysEnv...), t: t, em: em}
	g.admin("POST", "/team/new", `{"team_id":"team-a","max_budget":100}`, nil)
	g.admin("POST", "/user/new", `{"user_id":"user-a","auto_create_key":false}`, nil)
	var spender generated
	g.admin("POST", "/key/generate", `{"key_alias":"spender","team_id":"team-a","user_id":"user-a","max_budget":0.0001,"budget_duration":"30d"}`, &spender)

	// Spend the key's budget; every answer says what it cost.
	spent, ids := 0.0, map[string]bool{}
	for spent < 0.0001 {
		status, raw, h := g.chatKey(spender.Key, "bedrock-claude")
		if status != 200 {
			t.Fatalf("after spending %v: %d %s", spent, status, raw)
		}
		spent += costOf(t, h)
		ids[h.Get("X-Request-Id")] = true
		requestLine(t, g.gateway, h.Get("X-Request-Id")) // its spend is counted
	}
	// Then the key is refused with LiteLLM's budget_exceeded, before Bedrock.
	before := len(em.Calls())
	status, raw, _ := g.chatKey(spender.Key, "bedrock-claude")
	g.refused(status, raw, 400, "400", "", "Budget has been exceeded! Key=spender Current cost: ", "Max budget: 0.0001", "Budget resets at ")
	if _, typ, _, _ := errorBody(t, raw); typ != "budget_exceeded" {
		t.Errorf("type %q, want budget_exceeded", typ)
	}
	if len(em.Calls()) != before {
		t.Error("a request over budget reached Bedrock")
	}

	// One spend row per request, as /spend/logs lists them, filtered as LiteLLM filters.
	rows := g.spendLogs("api_key="+spender.Key, len(ids)+1)
	logged, failures := 0.0, 0
	for _, r := range rows {
		if r.APIKey != spender.Token || r.TeamID != "team-a" || r.User != "user-a" || r.Model != "bedrock-claude" ||
			r.Metadata["user_api_key_alias"] != "spender" || r.EndTime.Before(r.StartTime) || r.Messages != nil {
			t.Errorf("row %+v", r)
		}
		switch r.Status {
		case "success":
			if !ids[r.RequestID] || r.PromptTokens == 0 || r.CompletionTokens == 0 || r.ModelID != "anthropic.claude-3-5-sonnet-20240620-v1:0" {
				t.Errorf("success row %+v", r)
			}
			logged += r.Spend
		case "failure":
			failures++
		}
	}
	if len(rows) != len(ids)+1 || failures != 1 || !nearly(logged, spent) {
		t.Errorf("%d rows (%d failures) logging %v, want %d and one failure logging %v", len(rows), failures, logged, len(ids)+1, spent)
	}
	var one string
	for id := range ids {
		one = id
	}
	if got := g.spendLogs("request_id="+one, 1); len(got) != 1 || got[0].RequestID != one {
		t.Errorf("request_id filter: %+v", got)
	}
	if got := g.spendLogs("team_id=team-a&user_id=user-a", len(rows)); len(got) != len(rows) {
		t.Errorf("team_id and user_id filters: %d rows, want %d", len(got), len(rows))
	}
	today := time.Now().UTC().Format(time.DateOnly)
	if got := g.spendLogs("key="+spender.Token+"&start_date="+today+"&end_date="+today, len(rows)); len(got) != len(rows) {
		t.Errorf("today's rows: %d, want %d", len(got), len(rows))
	}
	tomorrow := time.Now().UTC().AddDate(0, 0, 1).Format(time.DateOnly)
	if got := g.spendLogs("start_date="+tomorrow, 0); len(got) != 0 {
		t.Errorf("rows from tomorrow on: %d", len(got))
	}
	status, raw = g.call("GET", "/spend/logs?start_date=yesterday", "Authorization", testMasterKey, "", nil)
	if _, _, param, _ := errorBody(t, raw); status != 400 || param == nil || *param != "start_date" {
		t.Errorf("a bad start_date: %d %s", status, raw)
	}
	status, raw = g.call("GET", "/spend/logs", "Authorization", spender.Key, "", nil)
	g.refused(status, raw, 403, "admin_only", "")

	// The key's, team's and user's totals.
	var keyInfo struct {
		Info struct{ Spend float64 } `json:"info"`
	}
	g.admin("GET", "/key/info?key="+spender.Key, "", &keyInfo)
	var teamInfo struct {
		TeamInfo struct{ Spend float64 } `json:"team_info"`
		Spend    *float64                `json:"spend"`
	}
	g.admin("GET", "/team/info?team_id=team-a", "", &teamInfo)
	var userInfo struct {
		UserInfo struct{ Spend float64 } `json:"user_info"`
	}
	g.admin("GET", "/user/info?user_id=user-a", "", &userInfo)
	if !nearly(keyInfo.Info.Spend, spent) || !nearly(teamInfo.TeamInfo.Spend, spent) || !nearly(userInfo.UserInfo.Spend, spent) {
		t.Errorf("spend totals: key %v, team %v, user %v; want %v", keyInfo.Info.Spend, teamInfo.TeamInfo.Spend, userInfo.UserInfo.Spend, spent)
	}

	// rpm_limit: the headers count down, then 429 with Retry-After.
	var limited generated
	g.admin("POST", "/key/generate", `{"key_alias":"limited","rpm_limit":2,"tpm_limit":1000000}`, &limited)
	for i, remaining := range []string{"1", "0"} {
		status, raw, h := g.chatKey(limited.Key, "bedrock-claude")
		if status != 200 || h.Get("X-Ratelimit-Limit-Requests") != "2" || h.Get("X-Ratelimit-Remaining-Requests") != remaining ||
			h.Get("X-Ratelimit-Limit-Tokens") != "1000000" || h.Get("X-Ratelimit-Remaining-Tokens") == "" {
			t.Errorf("request %d: %d %v %s", i, status, h, raw)
		}
	}
	before = len(em.Calls())
	status, raw, h := g.chatKey(limited.Key, "bedrock-claude")
	g.refused(status, raw, 429, "rate_limit_exceeded", "rpm_limit", "Key=limited")
	if h.Get("Retry-After") == "" || h.Get("X-Ratelimit-Remaining-Requests") != "0" || len(em.Calls()) != before {
		t.Errorf("429 headers %v; Bedrock calls %d", h, len(em.Calls())-before)
	}
}

// Fifty requests race on a key whose budget is smaller than one request's
// cost: all fifty are admitted while nothing is spent; once they have
// ended, every request is refused and none reaches Bedrock.
func TestKeyBudgetUnderConcurrency(t *testing.T) {
	for _, driver := range storetest.Drivers {
		t.Run(driver, func(t *testing.T) {
			em := emulator.New(emulator.Options{Keys: map[string]emulator.Key{testAccessKey: {Secret: testSecretKey}}, Region: testRegion})
			gt := &gate{next: em, arrived: make(chan struct{}, 100), release: make(chan struct{})}
			srv := httptest.NewServer(gt)
			t.Cleanup(srv.Close)
			g := &keyGateway{gateway: startGateway(t, keysConfig(srv.URL, storetest.URL(t, driver), ""), keysEnv...), t: t, em: em}
			var k generated
			g.admin("POST", "/key/generate", `{"key_alias":"tiny","max_budget":0.00000001}`, &k)
			raceOnTinyBudget(t, g.gateway, gt, em, func() (int, []byte, http.Header) { return g.chatKey(k.Key, "bedrock-claude") })
		})
	}
}

// SIGTERM writes the spend rows still buffered: after a restart on the same
// database, every request is in /spend/logs and the key's spend is where
// it was, budget included.
func TestSpendSurvivesSIGTERM(t *testing.T) {
	for _, driver := range storetest.Drivers {
		t.Run(driver, func(t *testing.T) {
			em, endpoint := bedrockEmulator(t)
			dbURL := storetest.URL(t, driver)
			// Rows would wait an hour to be written: only the shutdown writes them.
			cfg := keysConfig(endpoint, dbURL, "  proxy_batch_write_at: 3600\n")
			g := &keyGateway{gateway: startGateway(t, cfg, keysEnv...), t: t, em: em}
			var k generated
			g.admin("POST", "/key/generate", `{"key_alias":"restart","max_budget":0.0001}`, &k)
			spent, n := 0.0, 0
			for spent < 0.0001 {
				status, raw, h := g.chatKey(k.Key, "bedrock-claude")
				if status != 200 {
					t.Fatalf("%d %s", status, raw)
				}
				spent += costOf(t, h)
				n++
				requestLine(t, g.gateway, h.Get("X-Request-Id"))
			}
			var rows []spendLogRow
			g.admin("GET", "/spend/logs?api_key="+k.Token, "", &rows)
			if len(rows) != 0 {
				t.Fatalf("%d rows written before shutdown; the test needs them buffered", len(rows))
			}
			if err := g.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if err := <-g.done; err != nil {
				t.Fatalf("strata exited with %v:\n%s", err, g.logs)
			}
			if !strings.Contains(g.logs.String(), `"msg":"spend logs written"`) {
				t.Errorf("no word of the spend logs written at shutdown:\n%s", g.logs)
			}

			g2 := &keyGateway{gateway: startGateway(t, cfg, keysEnv...), t: t, em: em}
			rows = g2.spendLogs("api_key="+k.Token, n)
			logged := 0.0
			for _, r := range rows {
				logged += r.Spend
			}
			if len(rows) != n || !nearly(logged, spent) {
				t.Errorf("after the restart: %d rows logging %v, want %d logging %v", len(rows), logged, n, spent)
			}
			before := len(em.Calls())
			status, raw, _ := g2.chatKey(k.Key, "bedrock-claude")
			g2.refused(status, raw, 400, "400", "", "Budget has been exceeded! Key=restart")
			if len(em.Calls()) != before {
				t.Error("the restarted gateway let a request over budget reach Bedrock")
			}
		})
	}
}

// tcpProxy forwards connections to target until cut; a cut proxy closes
// every connection and refuses new ones, as a database host gone away.
type tcpProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  []net.Conn
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			if p.down {
				p.mu.Unlock()
				c.Close()
				continue
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				p.mu.Unlock()
				c.Close()
				continue
			}
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
	return p
}

func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *tcpProxy) restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

// With the database gone, requests with a cached key are still served and
// their spend rows kept; when it comes back, they are written.
func TestSpendWhileDatabaseIsDown(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	dbURL := storetest.PostgresURL(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newTCPProxy(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	g := &keyGateway{gateway: startGateway(t, keysConfig(endpoint, u.String(), "  proxy_batch_write_at: 0.05\n"), keysEnv...), t: t, em: em}
	var k generated
	g.admin("POST", "/key/generate", `{"key_alias":"outage","max_budget":100}`, &k)
	g.mustChatAs(k.Key, "bedrock-claude")
	g.spendLogs("api_key="+k.Token, 1)

	proxy.cut()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 5 {
		status, raw, _ := g.chatKey(k.Key, "bedrock-claude")
		if status != 200 {
			t.Fatalf("request %d with the database down: %d %s", i, status, raw)
		}
	}
	// The batcher has tried and failed at least once.
	for !strings.Contains(g.logs.String(), "could not write spend logs; keeping them to try again") {
		if ctx.Err() != nil {
			t.Fatalf("no failed write logged:\n%s", g.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	proxy.restore()
	rows := g.spendLogs("api_key="+k.Token, 6)
	if len(rows) != 6 {
		t.Errorf("%d rows after the database came back, want 6", len(rows))
	}
	var metrics string
	for _, line := range strings.Split(g.metricsText(t), "\n") {
		if strings.HasPrefix(line, "strata_spend_logs_dropped_total") {
			metrics = line
		}
	}
	if metrics != "strata_spend_logs_dropped_total 0" {
		t.Errorf("dropped rows: %q", metrics)
	}
}

// metricsText reads GET /metrics.
func (g *gateway) metricsText(t *testing.T) string {
	t.Helper()
	resp, err := http.Get(g.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return string(raw)
}

var _ = json.Marshal

// general_settings.store_prompts_in_spend_logs keeps each request's body
// in its spend log row; without it, none is kept (checked above).
func TestSpendLogsKeepPromptsWhenAsked(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := &keyGateway{gateway: startGateway(t, keysConfig(endpoint, storetest.URL(t, "sqlite"),
		"  proxy_batch_write_at: 0.05\n  store_prompts_in_spend_logs: true\n"), keysEnv...), t: t, em: em}
	var k generated
	g.admin("POST", "/key/generate", `{"key_alias":"kept"}`, &k)
	if status, raw, _ := g.chatKey(k.Key, "bedrock-claude"); status != 200 {
		t.Fatalf("%d %s", status, raw)
	}
	rows := g.spendLogs("api_key="+k.Token, 1)
	if len(rows) != 1 || rows[0].Messages == nil || !strings.Contains(*rows[0].Messages, `"content":"hi"`) {
		t.Errorf("rows %+v", rows)
	}
}
