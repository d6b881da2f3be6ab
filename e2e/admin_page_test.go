package e2e

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/strata-gateway/strata/internal/store/storetest"
)

// browser starts a headless Chromium (STRATA_TEST_CHROMIUM, which
// scripts/test sets) with a fresh profile, and returns a tab's context.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("STRATA_TEST_CHROMIUM")
	if path == "" {
		t.Fatal("STRATA_TEST_CHROMIUM is not set: run the tests with scripts/test, or point it at a Chromium binary (apt-get install chromium)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	tab, cancelTab := chromedp.NewContext(alloc)
	t.Cleanup(cancelTab)
	return tab
}

// page runs browser actions and fails the test on the first error.
type page struct {
	t   *testing.T
	ctx context.Context
	dir string // where screenshots go
}

func (p *page) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, steps...); err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
}

// run runs one action that returns a value.
func run[T any](p *page, what string, a chromedp.Action[T]) T {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, a)
	if err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
	return v
}

func eval[T any](p *page, js string) T {
	p.t.Helper()
	return run(p, "evaluate "+js, chromedp.Evaluate[T](js))
}

// poll waits until the expression is true in the page.
func (p *page) poll(what, js string) {
	p.t.Helper()
	if _, err := chromedp.Run(p.ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		text, _ := chromedp.Run(p.ctx, chromedp.Evaluate[string](`document.querySelector("main").innerText`))
		p.t.Fatalf("%s: %v; the page says:\n%s", what, err, text)
	}
}

func (p *page) text(sel string) string {
	p.t.Helper()
	return run(p, "read "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// shoot saves the whole page as name.png at the current width.
func (p *page) shoot(name string) {
	p.t.Helper()
	png := run(p, "screenshot "+name, chromedp.FullScreenshot(100))
	path := filepath.Join(p.dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("screenshot: %s", path)
}

// fitsWidth fails the test if the page scrolls sideways: tables may
// scroll inside their box, the page may not.
func (p *page) fitsWidth(view string, width int64) {
	p.t.Helper()
	sizes := eval[[]int](p, `[document.documentElement.scrollWidth, document.documentElement.clientWidth]`)
	if sizes[0] > sizes[1] {
		p.t.Errorf("%s at %d px: the page is %d px wide, wider than the window's %d", view, width, sizes[0], sizes[1])
	}
}

func (p *page) focused() string {
	p.t.Helper()
	return eval[string](p, `(() => { const e = document.activeElement; return e.id || (e.tagName + ":" + e.textContent.trim()); })()`)
}

// TestAdminPage drives the admin page in Chromium: log in with the master
// key, create a key and see it once, use it with the OpenAI SDK, see its
// spend in the chart and its request in the list, block it and see it
// refused; at 1280 and 390 px, keyboard first.
func TestAdminPage(t *testing.T) {
	em, endpoint := bedrockEmulator(t)
	g := &keyGateway{gateway: startGateway(t, keysConfig(endpoint, storetest.URL(t, "sqlite"), "  proxy_batch_write_at: 1\n"), keysEnv...), t: t, em: em}
	p := &page{t: t, ctx: browser(t), dir: t.ArtifactDir()}

	// The page is static and open; the data routes are not.
	status, _ := g.call("GET", "/ui/app.js", "", "", "", nil)
	if status != http.StatusOK {
		t.Fatalf("GET /ui/app.js without a key: %d, want 200", status)
	}
	status, raw := g.call("GET", "/global/deployments", "", "", "", nil)
	g.refused(status, raw, http.StatusUnauthorized, "missing_api_key", "")

	p.do("open /ui", chromedp.Navigate(g.URL+"/ui"), chromedp.WaitVisible(chromedp.CSS("#master-key")))
	p.fitsWidth("login", 1280)

	// Keyboard: from the top of the page, Tab reaches the key field and
	// then the button that logs in.
	p.do("tab", chromedp.KeyEvent(kb.Tab))
	if got := p.focused(); got != "master-key" {
		t.Fatalf("the first Tab focuses %q, want the master key field", got)
	}
	p.do("tab", chromedp.KeyEvent(kb.Tab))
	if got := p.focused(); got != "BUTTON:Log in" {
		t.Fatalf("the second Tab focuses %q, want the Log in button", got)
	}
	if !eval[bool](p, `[...document.querySelectorAll("input, select")].every((e) => e.type === "hidden" || e.labels.length > 0)`) {
		t.Errorf("an input or select has no label")
	}

	// A wrong key is told so, in words.
	p.do("log in with a wrong key",
		chromedp.SendKeys(chromedp.CSS("#master-key"), "sk-not-the-master-key"),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.CSS(`#login-error:not(:empty)`)))
	if msg := p.text("#login-error"); !strings.Contains(msg, "not this gateway's master key") {
		t.Fatalf("the login error says %q", msg)
	}
	p.shoot("login-refused-1280")

	p.do("log in",
		chromedp.Clear(chromedp.CSS("#master-key")),
		chromedp.SendKeys(chromedp.CSS("#master-key"), testMasterKey),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.CSS(`#models-table tbody tr`)))
	if rows := p.text("#models-table tbody"); !strings.Contains(rows, "bedrock-claude#1") || !strings.Contains(rows, "in rotation") {
		t.Fatalf("models view: %q", rows)
	}

	// A team, then a key in it: the plain key is shown once, then gone
	// from the page.
	p.do("create a team",
		chromedp.Click(chromedp.CSS(`#nav [data-view=teams]`)),
		chromedp.SendKeys(chromedp.CSS(`#team-form input[name=team_alias]`), "Search"),
		chromedp.SendKeys(chromedp.CSS(`#team-form input[name=max_budget]`), "25"),
		chromedp.Click(chromedp.CSS(`#team-submit`)),
		chromedp.WaitVisible(chromedp.CSS(`#teams-table tbody tr`)))
	if row := p.text("#teams-table tbody"); !strings.Contains(row, "Search") || !strings.Contains(row, "$25") {
		t.Fatalf("teams table: %q", row)
	}
	p.do("create a key",
		chromedp.Click(chromedp.CSS(`#nav [data-view=keys]`)),
		chromedp.WaitReady(chromedp.CSS(`#key-form select[name=team_id] option:nth-child(2)`)),
		chromedp.SendKeys(chromedp.CSS(`#key-form input[name=key_alias]`), "ui-e2e"),
		chromedp.SendKeys(chromedp.CSS(`#key-form input[name=rpm_limit]`), "100"))
	teamID := eval[string](p, `(() => { const s = document.querySelector("#key-form select[name=team_id]"); s.selectedIndex = 1; return s.value; })()`)
	p.do("create a key",
		chromedp.Click(chromedp.CSS(`#key-submit`)),
		chromedp.WaitVisible(chromedp.CSS(`#new-key`)),
		chromedp.WaitVisible(chromedp.CSS(`#keys-table tbody tr`)))
	plain := p.text("#new-key-value")
	if !strings.HasPrefix(plain, "sk-") {
		t.Fatalf("the new key shown is %q", plain)
	}
	p.shoot("key-created-1280")
	p.do("dismiss the key", chromedp.Click(chromedp.CSS(`#new-key-done`)), chromedp.WaitNotVisible(chromedp.CSS(`#new-key`)))
	if html := run(p, "read the page", chromedp.OuterHTML(chromedp.CSS("html"))); strings.Contains(html, plain) {
		t.Fatalf("the plain key is still in the page after it was dismissed")
	}
	if row := p.text("#keys-table tbody"); !strings.Contains(row, "ui-e2e") || !strings.Contains(row, "100") || !strings.Contains(row, "active") || !strings.Contains(row, teamID) {
		t.Fatalf("keys table: %q", row)
	}

	// The key works, through the official SDK.
	client := g.client(option.WithAPIKey(plain))
	resp, err := client.Chat.Completions.New(ctxTimeout(t), openai.ChatCompletionNewParams{
		Model:    "bedrock-claude",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello from the admin page test")},
	})
	if err != nil {
		t.Fatalf("chat with the new key: %v", err)
	}
	if resp.Usage.TotalTokens == 0 {
		t.Fatalf("no usage in %+v", resp)
	}
	if call := lastCall(t, em); !strings.Contains(string(call.Body), "hello from the admin page test") {
		t.Fatalf("Bedrock got %s", call.Body)
	}
	rows := g.spendLogs("api_key="+plain, 1) // written in the background: wait for it
	if len(rows) != 1 || rows[0].Spend <= 0 {
		t.Fatalf("spend logs of the new key: %+v", rows)
	}

	// Its spend is in the chart and the totals.
	p.do("spend per key",
		chromedp.Click(chromedp.CSS(`#nav [data-view=spend]`)),
		chromedp.WaitVisible(chromedp.CSS(`#spend-chart rect[data-group="ui-e2e"]`)))
	if total := p.text("#spend-table tbody tr[data-group=\"ui-e2e\"]"); !strings.Contains(total, "$") || !strings.Contains(total, "ui-e2e") {
		t.Fatalf("spend totals row: %q", total)
	}
	if total := p.text("#spend-total"); !strings.Contains(total, "over 1 requests") {
		t.Fatalf("spend total: %q", total)
	}
	p.do("spend per model",
		chromedp.SetValue(chromedp.CSS(`#spend-form select[name=group_by]`), "model"),
		chromedp.Click(chromedp.CSS(`#spend-form button`)),
		chromedp.WaitVisible(chromedp.CSS(`#spend-chart rect[data-group="bedrock-claude"]`)))
	p.shoot("spend-1280")
	p.do("spend per team",
		chromedp.SetValue(chromedp.CSS(`#spend-form select[name=group_by]`), "team"),
		chromedp.Click(chromedp.CSS(`#spend-form button`)),
		chromedp.WaitVisible(chromedp.CSS(`#spend-chart rect[data-group="Search"]`)))

	// The routes behind the chart and the list, as scripts see them.
	day := time.Now().UTC().Format(time.DateOnly)
	var report []map[string]any
	g.admin("GET", "/global/spend/report?group_by=api_key&start_date="+day+"&end_date="+day, "", &report)
	if len(report) != 1 || report[0]["group_by_day"] != day+"T00:00:00+00:00" {
		t.Fatalf("spend report by key: %v", report)
	}
	if keys, _ := report[0]["api_keys"].([]any); len(keys) != 1 || keys[0].(map[string]any)["key_alias"] != "ui-e2e" ||
		keys[0].(map[string]any)["api_requests"] != 1.0 || keys[0].(map[string]any)["total_spend"] != rows[0].Spend {
		t.Fatalf("spend report by key: %v, want ui-e2e's one request costing %v", report, rows[0].Spend)
	}
	var logsPage struct {
		Data  []spendLogRow `json:"data"`
		Total int           `json:"total"`
	}
	g.admin("GET", "/spend/logs/ui?status_filter=success&page_size=1&api_key="+plain, "", &logsPage)
	if logsPage.Total != 1 || len(logsPage.Data) != 1 || logsPage.Data[0].RequestID != rows[0].RequestID {
		t.Fatalf("spend logs page: %+v", logsPage)
	}
	for _, c := range []struct{ path, param string }{
		{"/global/spend/report?start_date=" + day, "end_date"},
		{"/global/spend/report?group_by=region&start_date=" + day + "&end_date=" + day, "group_by"},
		{"/global/spend/report?start_date=" + day + "&end_date=2020-01-01", "end_date"},
		{"/spend/logs/ui?page_size=5000", "page_size"},
		{"/spend/logs/ui?page=0", "page"},
	} {
		status, raw := g.call("GET", c.path, "Authorization", testMasterKey, "", nil)
		if _, _, param, _ := errorBody(t, raw); status != http.StatusBadRequest || param == nil || *param != c.param {
			t.Errorf("GET %s: %d %s, want a 400 naming %s", c.path, status, raw, c.param)
		}
	}
	status, raw = g.call("GET", "/global/spend/report", "Authorization", plain, "", nil)
	g.refused(status, raw, http.StatusForbidden, "admin_only", "")

	// The request is in the recent requests, and a filter finds it.
	p.do("recent requests",
		chromedp.Click(chromedp.CSS(`#nav [data-view=requests]`)),
		chromedp.WaitVisible(chromedp.CSS(`#requests-table tbody tr[data-request-id="`+rows[0].RequestID+`"]`)))
	if row := p.text(`#requests-table tbody tr[data-request-id="` + rows[0].RequestID + `"]`); !strings.Contains(row, "ui-e2e") ||
		!strings.Contains(row, "bedrock-claude") || !strings.Contains(row, "success") {
		t.Fatalf("request row: %q", row)
	}
	p.do("filter by a model nobody used",
		chromedp.SendKeys(chromedp.CSS(`#requests-form input[name=model]`), "bedrock-other"),
		chromedp.Click(chromedp.CSS(`#requests-form button`)),
		chromedp.WaitVisible(chromedp.CSS(`#requests-pager .page-info`)))
	p.poll("the filter finds nothing", `document.querySelector("#requests-pager .page-info").textContent.includes("(0 requests)")`)
	p.do("filter by the model used",
		chromedp.SetValue(chromedp.CSS(`#requests-form input[name=model]`), "bedrock-claude"),
		chromedp.Click(chromedp.CSS(`#requests-form button`)))
	p.poll("the filter finds the request", `document.querySelector("#requests-pager .page-info").textContent.includes("(1 requests)")`)
	p.do("filter by the key typed whole",
		chromedp.SetValue(chromedp.CSS(`#requests-form input[name=api_key]`), plain),
		chromedp.Click(chromedp.CSS(`#requests-form button`)))
	p.poll("the page asks for the key's requests", `performance.getEntriesByType("resource").some((e) => e.name.includes("api_key="))`)
	p.poll("the key filter finds the request", `document.querySelector("#requests-pager .page-info").textContent.includes("(1 requests)")`)
	// The page asked by the key's hash: the key itself is in no URL it fetched.
	urls := eval[[]string](p, `performance.getEntriesByType("resource").map((e) => e.name)`)
	byToken := false
	for _, u := range urls {
		if strings.Contains(u, plain) || strings.Contains(u, url.QueryEscape(plain)) {
			t.Fatalf("the page sent the key in a URL: %s", u)
		}
		byToken = byToken || strings.Contains(u, "api_key="+sha256Hex(plain))
	}
	if !byToken {
		t.Fatalf("no request asked for the key's spend by its hash: %q", urls)
	}
	p.shoot("requests-1280")

	// The models view now has the deployment's latency.
	p.do("models after a call", chromedp.Click(chromedp.CSS(`#nav [data-view=models]`)))
	p.poll("the latency shows", `document.querySelector("#models-table tbody").textContent.includes(" ms")`)
	p.shoot("models-1280")

	// Every view fits 1280 and 390 px.
	for _, width := range []int64{1280, 390} {
		p.do("resize", chromedp.EmulateViewport(width, 900))
		for _, view := range []string{"models", "keys", "teams", "spend", "requests"} {
			p.do("show "+view, chromedp.Click(chromedp.CSS(`#nav [data-view=`+view+`]`)), chromedp.WaitVisible(chromedp.CSS("#"+view)))
			p.poll("wait for "+view, `document.querySelector("#`+view+` tbody").rows.length > 0`)
			p.fitsWidth(view, width)
			if width == 390 {
				p.shoot(view + "-390")
			}
		}
	}
	p.do("resize", chromedp.EmulateViewport(1280, 900))

	// Block the key: the gateway refuses it.
	// Showing the keys view draws its table again when the keys arrive, which
	// can replace a Block button between finding it and clicking it; so the
	// button is clicked from the page, once per button drawn, until Unblock
	// shows (blocking twice is harmless).
	p.do("show keys", chromedp.Click(chromedp.CSS(`#nav [data-view=keys]`)), chromedp.WaitVisible(chromedp.CSS("#keys")))
	p.poll("block the key", `(() => {
		if (document.querySelector('button[aria-label="Unblock ui-e2e"]')) return true;
		const b = document.querySelector('button[aria-label="Block ui-e2e"]');
		if (b && b !== window.blockClicked) { window.blockClicked = b; b.click(); }
		return false;
	})()`)
	if row := p.text("#keys-table tbody"); !strings.Contains(row, "blocked") {
		t.Fatalf("keys table after blocking: %q", row)
	}
	p.shoot("key-blocked-1280")
	_, err = client.Chat.Completions.New(ctxTimeout(t), openai.ChatCompletionNewParams{
		Model:    "bedrock-claude",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello again")},
	})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized || apiErr.Code != "blocked_key" {
		t.Fatalf("chat with the blocked key: %v, want 401 blocked_key", err)
	}

	// Log out: the key leaves the tab.
	p.do("log out", chromedp.Click(chromedp.CSS(`#logout`)), chromedp.WaitVisible(chromedp.CSS("#master-key")))
	if stored := eval[string](p, `sessionStorage.getItem("strata.masterKey") || ""`); stored != "" {
		t.Fatalf("the master key is still in session storage after logging out")
	}
}
