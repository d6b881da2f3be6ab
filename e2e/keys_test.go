package e2e

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, to take the test database down

	"github.com/strata-gateway/strata/internal/emulator"
	"github.com/strata-gateway/strata/internal/store/storetest"
)

const testMasterKey = "sk-master-e2e-0123456789-never-logged"

// keysConfig serves two models and turns authentication on, keeping keys in
// the database databaseURL names.
func keysConfig(endpoint, databaseURL, extra string) string {
	model := func(name string) string {
		return fmt.Sprintf(`  - model_name: %s
    litellm_params:
      model: bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0
      aws_access_key_id: os.environ/CUSTOM_AWS_ACCESS_KEY_ID
      aws_secret_access_key: os.environ/CUSTOM_AWS_SECRET_ACCESS_KEY
      aws_region_name: os.environ/CUSTOM_AWS_REGION_NAME
      aws_bedrock_runtime_endpoint: %s
`, name, endpoint)
	}
	return "model_list:\n" + model("bedrock-claude") + model("bedrock-other") + fmt.Sprintf(`general_settings:
  master_key: os.environ/STRATA_MASTER_KEY
  database_url: %s
%s`, databaseURL, extra)
}

var keysEnv = append([]string{"STRATA_MASTER_KEY=" + testMasterKey}, seedEnv...)

// keyGateway is a gateway with a master key on the given database.
type keyGateway struct {
	*gateway
	t  *testing.T
	em *emulator.Emulator
}

func startKeyGateway(t *testing.T, em *emulator.Emulator, endpoint, databaseURL string) *keyGateway {
	t.Helper()
	g := startGateway(t, keysConfig(endpoint, databaseURL, ""), keysEnv...)
	return &keyGateway{gateway: g, t: t, em: em}
}

// call sends method path with body, the key in header (Authorization
// gets "Bearer "), and decodes the JSON answer into out when given.
func (g *keyGateway) call(method, path, header, key, body string, out any) (int, []byte) {
	g.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, g.URL+path, rd)
	if err != nil {
		g.t.Fatal(err)
	}
	if key != "" {
		if header == "Authorization" {
			key = "Bearer " + key
		}
		req.Header.Set(header, key)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, out); err != nil {
			g.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
	return resp.StatusCode, raw
}

// admin calls an admin route with the master key and wants a 200.
func (g *keyGateway) admin(method, path, body string, out any) {
	g.t.Helper()
	status, raw := g.call(method, path, "Authorization", testMasterKey, body, out)
	if status != http.StatusOK {
		g.t.Fatalf("%s %s %s: %d %s", method, path, body, status, raw)
	}
}

// refused wants status and an OpenAI error body whose code is code and
// whose message contains every part.
func (g *keyGateway) refused(status int, raw []byte, wantStatus int, code, param string, parts ...string) {
	g.t.Helper()
	if status != wantStatus {
		g.t.Fatalf("status %d, want %d: %s", status, wantStatus, raw)
	}
	msg, _, p, c := errorBody(g.t, raw)
	if c == nil || *c != code {
		g.t.Errorf("code %v, want %q: %s", c, code, raw)
	}
	if param != "" && (p == nil || *p != param) {
		g.t.Errorf("param %v, want %q: %s", p, param, raw)
	}
	for _, part := range parts {
		if !strings.Contains(msg, part) {
			g.t.Errorf("message %q does not contain %q", msg, part)
		}
	}
}

// chatAs asks model through the official SDK with key.
func (g *keyGateway) chatAs(key, model string) (*openai.ChatCompletion, error) {
	client := g.client(option.WithAPIKey(key))
	return client.Chat.Completions.New(ctxTimeout(g.t), openai.ChatCompletionNewParams{
		Model:    model,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	})
}

func (g *keyGateway) mustChatAs(key, model string) {
	g.t.Helper()
	if _, err := g.chatAs(key, model); err != nil {
		g.t.Fatalf("chat as %.12s... with %s: %v", key, model, err)
	}
}

// refusedChat wants the SDK's call refused with status and code, and no
// call to reach Bedrock.
func (g *keyGateway) refusedChat(key, model string, status int, code string, parts ...string) {
	g.t.Helper()
	before := len(g.em.Calls())
	_, err := g.chatAs(key, model)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) {
		g.t.Fatalf("chat as %.12s... with %s: %v, want a %d", key, model, err, status)
	}
	// The SDK keeps the body's "error" object.
	g.refused(apiErr.StatusCode, []byte(`{"error":`+apiErr.RawJSON()+`}`), status, code, "", parts...)
	if n := len(g.em.Calls()) - before; n != 0 {
		g.t.Errorf("a refused request reached Bedrock (%d calls)", n)
	}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

type generated struct {
	Key      string   `json:"key"`
	Token    string   `json:"token"`
	KeyName  string   `json:"key_name"`
	KeyAlias *string  `json:"key_alias"`
	Models   []string `json:"models"`
	Expires  *string  `json:"expires"`
	TeamID   *string  `json:"team_id"`
}

func TestKeysAndAuth(t *testing.T) {
	for _, driver := range storetest.Drivers {
		t.Run(driver, func(t *testing.T) { testKeysAndAuth(t, driver) })
	}
}

func testKeysAndAuth(t *testing.T, driver string) {
	em, endpoint := bedrockEmulator(t)
	dbURL := storetest.URL(t, driver)
	g := startKeyGateway(t, em, endpoint, dbURL)

	// No key, a wrong key: 401, nothing reaches Bedrock.
	g.refusedChat("", "bedrock-claude", 401, "missing_api_key", "no API key")
	g.refusedChat("sk-not-a-key-at-all", "bedrock-claude", 401, "invalid_api_key")
	// The master key calls anything.
	g.mustChatAs(testMasterKey, "bedrock-other")

	// Probes stay open; the rest is closed.
	for _, path := range []string{"/health/liveliness", "/health/readiness"} {
		if status, raw := g.call("GET", path, "", "", "", nil); status != 200 {
			t.Errorf("GET %s without a key: %d %s", path, status, raw)
		}
	}
	if status, _ := g.call("GET", "/metrics", "", "", "", nil); status != 200 {
		t.Errorf("GET /metrics without a key: %d (require_auth_for_metrics_endpoint is off)", status)
	}
	for _, path := range []string{"/health", "/v1/models", "/key/list", "/team/list"} {
		status, raw := g.call("GET", path, "", "", "", nil)
		g.refused(status, raw, 401, "missing_api_key", "")
	}

	// A key for one model.
	var k generated
	g.admin("POST", "/key/generate", `{"models":["bedrock-claude"],"max_budget":5,"budget_duration":"30d","rpm_limit":60,"key_alias":"team-a-bot"}`, &k)
	if !strings.HasPrefix(k.Key, "sk-") || k.Token != sha256Hex(k.Key) || k.KeyAlias == nil || *k.KeyAlias != "team-a-bot" || k.Expires != nil {
		t.Fatalf("generated %+v", k)
	}
	if strings.Contains(k.KeyName, k.Key[3:len(k.Key)-4]) {
		t.Errorf("key_name %q shows the key", k.KeyName)
	}
	// Every header LiteLLM reads carries it.
	g.mustChatAs(k.Key, "bedrock-claude")
	for _, h := range []string{"x-api-key", "api-key", "x-litellm-api-key"} {
		status, raw := g.call("POST", "/v1/chat/completions", h, k.Key, `{"model":"bedrock-claude","messages":[{"role":"user","content":"hi"}]}`, nil)
		if status != 200 {
			t.Errorf("key in %s: %d %s", h, status, raw)
		}
	}
	// Other models are refused by name, with the key's alias.
	g.refusedChat(k.Key, "bedrock-other", 403, "key_model_access_denied", "bedrock-other", "team-a-bot")
	var models struct {
		Data []struct{ ID string } `json:"data"`
	}
	g.call("GET", "/v1/models", "Authorization", k.Key, "", &models)
	if len(models.Data) != 1 || models.Data[0].ID != "bedrock-claude" {
		t.Errorf("/v1/models for the key lists %+v, want bedrock-claude only", models.Data)
	}
	// A virtual key is no admin.
	status, raw := g.call("POST", "/key/generate", "Authorization", k.Key, `{}`, nil)
	g.refused(status, raw, 403, "admin_only", "", "master key")

	// info and list, by key or by token.
	var info struct {
		Key  string `json:"key"`
		Info struct {
			Token     string   `json:"token"`
			KeyAlias  string   `json:"key_alias"`
			Models    []string `json:"models"`
			MaxBudget float64  `json:"max_budget"`
			RPMLimit  int      `json:"rpm_limit"`
			Spend     float64  `json:"spend"`
		} `json:"info"`
	}
	g.admin("GET", "/key/info?key="+k.Key, "", &info)
	if info.Info.Token != k.Token || info.Info.KeyAlias != "team-a-bot" || info.Info.MaxBudget != 5 || info.Info.RPMLimit != 60 {
		t.Errorf("/key/info: %+v", info)
	}
	g.admin("GET", "/key/info?key="+k.Token, "", &info)
	if strings.Contains(fmt.Sprint(info), k.Key) {
		t.Errorf("/key/info shows the plain key")
	}
	var list struct {
		Keys       []string `json:"keys"`
		TotalCount int      `json:"total_count"`
	}
	g.admin("GET", "/key/list", "", &list)
	if list.TotalCount != 1 || len(list.Keys) != 1 || list.Keys[0] != k.Token {
		t.Errorf("/key/list: %+v", list)
	}
	status, raw = g.call("GET", "/key/info?key=sk-nope-nope-nope", "Authorization", testMasterKey, "", nil)
	g.refused(status, raw, 404, "not_found", "key")

	// Updates apply at once.
	g.admin("POST", "/key/update", `{"key":"`+k.Key+`","models":["bedrock-claude","bedrock-other"]}`, nil)
	g.mustChatAs(k.Key, "bedrock-other")
	g.admin("POST", "/key/block", `{"key":"`+k.Token+`"}`, nil)
	g.refusedChat(k.Key, "bedrock-claude", 401, "blocked_key", "team-a-bot")
	g.admin("POST", "/key/unblock", `{"key":"`+k.Key+`"}`, nil)
	g.mustChatAs(k.Key, "bedrock-claude")

	// Regenerate: the old key stops, the new one works and keeps the settings.
	var r generated
	g.admin("POST", "/key/regenerate", `{"key":"`+k.Key+`"}`, &r)
	if r.Key == k.Key || r.Token != sha256Hex(r.Key) || r.KeyAlias == nil || *r.KeyAlias != "team-a-bot" {
		t.Fatalf("regenerated %+v", r)
	}
	g.refusedChat(k.Key, "bedrock-claude", 401, "invalid_api_key")
	g.mustChatAs(r.Key, "bedrock-other")

	// A chosen key, and a key that expires.
	var chosen generated
	g.admin("POST", "/key/generate", `{"key":"sk-chosen-value-1234","duration":"1s"}`, &chosen)
	if chosen.Key != "sk-chosen-value-1234" || chosen.Expires == nil {
		t.Fatalf("chosen key: %+v", chosen)
	}
	exp, err := time.Parse(time.RFC3339Nano, *chosen.Expires)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(exp) + 50*time.Millisecond)
	g.refusedChat(chosen.Key, "bedrock-claude", 401, "expired_key")

	// Bad input names the field.
	for _, c := range []struct{ body, param string }{
		{`{"max_budget":"lots"}`, "max_budget"},
		{`{"budget_duration":"5x"}`, "budget_duration"},
		{`{"duration":"forever"}`, "duration"},
		{`{"rpm_limit":1.5}`, "rpm_limit"},
		{`{"tpm_limit":-1}`, "tpm_limit"},
		{`{"models":"bedrock-claude"}`, "models"},
		{`{"key":"not-sk"}`, "key"},
		{`{"team_id":"no-such-team"}`, "team_id"},
		{`{"key_alias":"team-a-bot"}`, "key_alias"},
		{`{"model_max_budget":{"bedrock-claude":"x"}}`, "model_max_budget.bedrock-claude"},
		{`{"colour":"blue"}`, "colour"},
	} {
		status, raw := g.call("POST", "/key/generate", "Authorization", testMasterKey, c.body, nil)
		g.refused(status, raw, 400, "invalid_request", c.param, c.param)
	}
	status, raw = g.call("POST", "/key/generate", "Authorization", testMasterKey, `{"models":`, nil)
	g.refused(status, raw, 400, "invalid_request", "")

	// Teams bound their keys.
	var team struct {
		TeamID string   `json:"team_id"`
		Models []string `json:"models"`
	}
	g.admin("POST", "/team/new", `{"team_id":"team-a","team_alias":"Team A","models":["bedrock-claude"],"max_budget":10,"rpm_limit":100}`, &team)
	if team.TeamID != "team-a" {
		t.Fatalf("/team/new: %+v", team)
	}
	status, raw = g.call("POST", "/key/generate", "Authorization", testMasterKey, `{"team_id":"team-a","models":["bedrock-other"]}`, nil)
	g.refused(status, raw, 400, "invalid_request", "models", "bedrock-other", "team-a")
	status, raw = g.call("POST", "/key/generate", "Authorization", testMasterKey, `{"team_id":"team-a","max_budget":11}`, nil)
	g.refused(status, raw, 400, "invalid_request", "max_budget")
	var tk generated
	g.admin("POST", "/key/generate", `{"team_id":"team-a","key_alias":"team-a-key"}`, &tk)
	g.mustChatAs(tk.Key, "bedrock-claude")
	g.refusedChat(tk.Key, "bedrock-other", 403, "team_model_access_denied", "bedrock-other", "team-a-key", "team-a")
	var teamInfo struct {
		TeamID   string `json:"team_id"`
		TeamInfo struct {
			TeamAlias string `json:"team_alias"`
		} `json:"team_info"`
		Keys []struct {
			Token string `json:"token"`
		} `json:"keys"`
	}
	g.admin("GET", "/team/info?team_id=team-a", "", &teamInfo)
	if teamInfo.TeamInfo.TeamAlias != "Team A" || len(teamInfo.Keys) != 1 || teamInfo.Keys[0].Token != tk.Token {
		t.Errorf("/team/info: %+v", teamInfo)
	}
	// The team's models widen: its key follows at once.
	g.admin("POST", "/team/update", `{"team_id":"team-a","models":["bedrock-claude","bedrock-other"]}`, nil)
	g.mustChatAs(tk.Key, "bedrock-other")
	g.admin("POST", "/team/update", `{"team_id":"team-a","blocked":true}`, nil)
	g.refusedChat(tk.Key, "bedrock-claude", 401, "blocked_key", "team-a")
	g.admin("POST", "/team/update", `{"team_id":"team-a","blocked":false}`, nil)
	var teams []struct {
		TeamID string `json:"team_id"`
	}
	g.admin("GET", "/team/list", "", &teams)
	if len(teams) != 1 || teams[0].TeamID != "team-a" {
		t.Errorf("/team/list: %+v", teams)
	}
	status, raw = g.call("GET", "/team/info?team_id=nope", "Authorization", testMasterKey, "", nil)
	g.refused(status, raw, 404, "not_found", "team_id")
	status, raw = g.call("POST", "/team/new", "Authorization", testMasterKey, `{"team_id":"team-a"}`, nil)
	g.refused(status, raw, 400, "invalid_request", "team_id")

	// Users: /user/new makes a key for the user.
	var user struct {
		UserID string `json:"user_id"`
		Key    string `json:"key"`
	}
	g.admin("POST", "/user/new", `{"user_id":"alice","user_email":"alice@example.com","models":["bedrock-claude"]}`, &user)
	if user.UserID != "alice" || !strings.HasPrefix(user.Key, "sk-") {
		t.Fatalf("/user/new: %+v", user)
	}
	g.mustChatAs(user.Key, "bedrock-claude")
	g.refusedChat(user.Key, "bedrock-other", 403, "user_model_access_denied", "alice")
	g.admin("POST", "/user/update", `{"user_id":"alice","models":[]}`, nil)
	g.mustChatAs(user.Key, "bedrock-other")
	var userInfo struct {
		UserInfo struct {
			UserEmail string `json:"user_email"`
		} `json:"user_info"`
		Keys []json.RawMessage `json:"keys"`
	}
	g.admin("GET", "/user/info?user_id=alice", "", &userInfo)
	if userInfo.UserInfo.UserEmail != "alice@example.com" || len(userInfo.Keys) != 1 {
		t.Errorf("/user/info: %+v", userInfo)
	}
	var users struct {
		Users []struct {
			UserID string `json:"user_id"`
		} `json:"users"`
		Total int `json:"total"`
	}
	g.admin("GET", "/user/list", "", &users)
	if users.Total != 1 || len(users.Users) != 1 {
		t.Errorf("/user/list: %+v", users)
	}
	status, raw = g.call("POST", "/user/new", "Authorization", testMasterKey, `{"user_role":"wizard"}`, nil)
	g.refused(status, raw, 400, "invalid_request", "user_role")

	// Keys and settings survive a restart.
	g.stop(t)
	g2 := startKeyGateway(t, em, endpoint, dbURL)
	g2.mustChatAs(r.Key, "bedrock-other")
	g2.mustChatAs(tk.Key, "bedrock-other")
	g2.refusedChat(k.Key, "bedrock-claude", 401, "invalid_api_key")

	// Deleting a user, a team, a key: their keys stop at once.
	g2.admin("POST", "/user/delete", `{"user_ids":["alice"]}`, nil)
	g2.refusedChat(user.Key, "bedrock-claude", 401, "invalid_api_key")
	g2.admin("POST", "/team/delete", `{"team_ids":["team-a"]}`, nil)
	g2.refusedChat(tk.Key, "bedrock-claude", 401, "invalid_api_key")
	var deleted struct {
		DeletedKeys []string `json:"deleted_keys"`
	}
	g2.admin("POST", "/key/delete", `{"key_aliases":["team-a-bot"]}`, &deleted)
	g2.refusedChat(r.Key, "bedrock-claude", 401, "invalid_api_key")
	status, raw = g2.call("POST", "/key/delete", "Authorization", testMasterKey, `{"keys":["`+r.Key+`"]}`, nil)
	g2.refused(status, raw, 404, "not_found", "keys")

	// Neither the master key nor any virtual key was ever printed.
	g2.stop(t)
	for _, out := range []string{g.logs.String(), g2.logs.String()} {
		for _, secret := range []string{testMasterKey, k.Key, r.Key, tk.Key, user.Key, chosen.Key} {
			if strings.Contains(out, secret) {
				t.Errorf("the gateway printed a key (%.8s...)", secret)
			}
		}
	}
	// Refusals are logged under the key's alias.
	if findLog(g.gateway, "request", `"key":"team-a-bot"`) == nil {
		t.Errorf("no access log line names the key by its alias")
	}
}

// Without a master key the gateway serves everyone, as before.
func TestNoMasterKeyServesEveryone(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := &keyGateway{gateway: startGateway(t, seedConfig(endpoint), seedEnv...), t: t, em: em}
	g.mustChatAs("anything", "bedrock-claude")
	if status, _ := g.call("GET", "/key/list", "Authorization", "anything", "", nil); status != http.StatusNotFound {
		t.Errorf("/key/list without a master key: %d, want 404", status)
	}
}

// require_auth_for_metrics_endpoint closes /metrics.
func TestMetricsNeedKeyWhenAsked(t *testing.T) {
	_, endpoint := bedrockEmulator(t)
	cfg := keysConfig(endpoint, storetest.URL(t, "sqlite"), "  require_auth_for_metrics_endpoint: true\n")
	g := &keyGateway{gateway: startGateway(t, cfg, keysEnv...), t: t}
	status, raw := g.call("GET", "/metrics", "", "", "", nil)
	g.refused(status, raw, 401, "missing_api_key", "")
	if status, _ := g.call("GET", "/metrics", "Authorization", testMasterKey, "", nil); status != 200 {
		t.Errorf("/metrics with the master key: %d", status)
	}
}

// LITELLM_MASTER_KEY alone turns authentication on, with keys in the
// default SQLite file next to the config.
func TestMasterKeyFromEnvironment(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := &keyGateway{gateway: startGateway(t, seedConfig(endpoint), append([]string{"LITELLM_MASTER_KEY=" + testMasterKey}, seedEnv...)...), t: t, em: em}
	g.refusedChat("", "bedrock-claude", 401, "missing_api_key")
	var k generated
	g.admin("POST", "/key/generate", `{}`, &k)
	g.mustChatAs(k.Key, "bedrock-claude")
}

// setDatabaseReachable opens or closes a test database on the PostgreSQL
// server: closed, it takes no connections and those it had are cut, as
// when the server goes away.
func setDatabaseReachable(t *testing.T, databaseURL string, reachable bool) {
	t.Helper()
	u, err := url.Parse(databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	db, err := sql.Open("pgx", os.Getenv(storetest.PostgresEnv))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(fmt.Sprintf("ALTER DATABASE %s ALLOW_CONNECTIONS %t", name, reachable)); err != nil {
		t.Fatal(err)
	}
	if !reachable {
		if _, err := db.Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name); err != nil {
			t.Fatal(err)
		}
	}
}

// With the database down, keys already checked keep working; a key never
// seen gets a 503 (it cannot be checked), not a 401; when the database is
// back, so is everything.
func TestDatabaseDownServesCachedKeys(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	dbURL := storetest.URL(t, "postgres")
	cfg := keysConfig(endpoint, dbURL, "  user_api_key_cache_ttl: 1\n")
	g := &keyGateway{gateway: startGateway(t, cfg, keysEnv...), t: t, em: em}
	var k generated
	g.admin("POST", "/key/generate", `{"key_alias":"outage-bot"}`, &k)
	g.mustChatAs(k.Key, "bedrock-claude")

	setDatabaseReachable(t, dbURL, false)
	t.Cleanup(func() { setDatabaseReachable(t, dbURL, true) })
	time.Sleep(1100 * time.Millisecond) // past the cache TTL: the key must be read again, and cannot be
	g.mustChatAs(k.Key, "bedrock-claude")
	g.mustChatAs(testMasterKey, "bedrock-claude")
	g.refusedChat("sk-never-seen-during-outage", "bedrock-claude", 503, "auth_unavailable", "database")

	setDatabaseReachable(t, dbURL, true)
	var k2 generated
	for i := 0; ; i++ { // the pool's cut connections are replaced as they are found dead
		status, raw := g.call("POST", "/key/generate", "Authorization", testMasterKey, `{}`, &k2)
		if status == 200 {
			break
		}
		if i == 3 {
			t.Fatalf("/key/generate after the database came back: %d %s", status, raw)
		}
	}
	g.mustChatAs(k2.Key, "bedrock-claude")
	g.stop(t)
	if findLog(g.gateway, "key store unreachable: using the cached key", "outage-bot") == nil {
		t.Errorf("no log line says the cached key was used during the outage")
	}
}

// Refusals on the Anthropic surface come in Anthropic's shape; its SDKs
// send the key in x-api-key.
func TestAnthropicSurfaceRefusals(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := &keyGateway{gateway: startGateway(t, keysConfig(endpoint, storetest.URL(t, "sqlite"), ""), keysEnv...), t: t, em: em}
	var k generated
	g.admin("POST", "/key/generate", `{"models":["bedrock-claude"],"key_alias":"claude-code"}`, &k)
	body := func(model string) string {
		return `{"model":"` + model + `","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`
	}
	var anthropicErr struct {
		Type  string `json:"type"`
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}
	for _, c := range []struct {
		key, model string
		status     int
		typ        string
		parts      []string
	}{
		{"", "bedrock-claude", 401, "authentication_error", []string{"no API key"}},
		{"sk-wrong-wrong-wrong", "bedrock-claude", 401, "authentication_error", nil},
		{k.Key, "bedrock-other", 403, "permission_error", []string{"bedrock-other", "claude-code"}},
	} {
		status, raw := g.call("POST", "/v1/messages", "x-api-key", c.key, body(c.model), nil)
		if err := json.Unmarshal(raw, &anthropicErr); err != nil || status != c.status || anthropicErr.Type != "error" || anthropicErr.Error.Type != c.typ {
			t.Errorf("key %.10q model %s: %d %s, want %d %s", c.key, c.model, status, raw, c.status, c.typ)
		}
		for _, p := range c.parts {
			if !strings.Contains(anthropicErr.Error.Message, p) {
				t.Errorf("message %q lacks %q", anthropicErr.Error.Message, p)
			}
		}
	}
	if n := len(em.Calls()); n != 0 {
		t.Errorf("%d refused requests reached Bedrock", n)
	}
	if status, raw := g.call("POST", "/v1/messages", "x-api-key", k.Key, body("bedrock-claude"), nil); status != 200 {
		t.Errorf("allowed model on /v1/messages: %d %s", status, raw)
	}
	// The Responses API checks the model the same way.
	status, raw := g.call("POST", "/v1/responses", "Authorization", k.Key, `{"model":"bedrock-other","input":"hi"}`, nil)
	g.refused(status, raw, 403, "key_model_access_denied", "", "bedrock-other")
}
