package store_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/strata-gateway/strata/internal/store"
	"github.com/strata-gateway/strata/internal/store/storetest"
)

// The conformance suite: every test runs on every driver.
func forEachDriver(t *testing.T, test func(t *testing.T, ctx context.Context, s store.Store, url string)) {
	for _, driver := range storetest.Drivers {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			url := storetest.URL(t, driver)
			s, err := store.Open(ctx, url)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			t.Cleanup(func() { s.Close() })
			if s.Driver() != driver {
				t.Fatalf("Driver() = %q, want %q", s.Driver(), driver)
			}
			test(t, ctx, s, url)
		})
	}
}

func ptr[T any](v T) *T { return &v }

// ms is a time as both databases keep it.
func ms(t time.Time) time.Time { return t.Truncate(time.Millisecond).UTC() }

var t0 = ms(time.Date(2026, 3, 4, 5, 6, 7, 891_000_000, time.UTC))

func sampleKey(token string) *store.Key {
	return &store.Key{
		Token:   token,
		KeyName: "sk-...abcd",
		Alias:   "alias-" + token,
		Limits: store.Limits{
			Models:              []string{"claude", "titan*"},
			MaxBudget:           ptr(5.5),
			SoftBudget:          ptr(4.0),
			BudgetDuration:      "30d",
			BudgetResetAt:       ptr(t0.Add(30 * 24 * time.Hour)),
			RPMLimit:            ptr[int64](60),
			TPMLimit:            ptr[int64](100000),
			MaxParallelRequests: ptr[int64](3),
			ModelMaxBudget:      map[string]store.ModelBudget{"claude": {BudgetLimit: 1.5, TimePeriod: "1d"}},
		},
		Metadata:  map[string]any{"owner": "team-a", "n": 3.0},
		Tags:      []string{"prod"},
		Expires:   ptr(t0.Add(time.Hour)),
		CreatedAt: t0,
		UpdatedAt: t0,
	}
}

func TestKeys(t *testing.T) {
	forEachDriver(t, func(t *testing.T, ctx context.Context, s store.Store, _ string) {
		k := sampleKey("tok1")
		if err := s.CreateKey(ctx, k); err != nil {
			t.Fatalf("CreateKey: %v", err)
		}
		got, err := s.GetKey(ctx, "tok1")
		if err != nil {
			t.Fatalf("GetKey: %v", err)
		}
		if !reflect.DeepEqual(got, k) {
			t.Fatalf("GetKey:\n got %+v\nwant %+v", got, k)
		}
		if err := s.CreateKey(ctx, sampleKey("tok1")); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("CreateKey with a taken token: %v, want ErrConflict", err)
		}
		dupAlias := sampleKey("tok2")
		dupAlias.Alias = k.Alias
		if err := s.CreateKey(ctx, dupAlias); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("CreateKey with a taken alias: %v, want ErrConflict", err)
		}
		if _, err := s.GetKey(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetKey(unknown): %v, want ErrNotFound", err)
		}

		// A key with nothing set reads back as nothing set.
		bare := &store.Key{Token: "tok3", KeyName: "sk-...bare", CreatedAt: t0.Add(time.Second), UpdatedAt: t0.Add(time.Second)}
		if err := s.CreateKey(ctx, bare); err != nil {
			t.Fatalf("CreateKey(bare): %v", err)
		}
		got, err = s.GetKey(ctx, "tok3")
		if err != nil {
			t.Fatal(err)
		}
		if got.MaxBudget != nil || got.RPMLimit != nil || got.Expires != nil || got.BudgetResetAt != nil || got.Alias != "" || len(got.Models) != 0 || got.Blocked {
			t.Fatalf("bare key read back with settings: %+v", got)
		}

		k.Blocked = true
		k.Models = []string{"other"}
		k.MaxBudget = nil
		k.TeamID = "team-x"
		k.UpdatedAt = t0.Add(time.Minute)
		if err := s.UpdateKey(ctx, k); err != nil {
			t.Fatalf("UpdateKey: %v", err)
		}
		got, _ = s.GetKey(ctx, "tok1")
		if !reflect.DeepEqual(got, k) {
			t.Fatalf("after UpdateKey:\n got %+v\nwant %+v", got, k)
		}
		if err := s.UpdateKey(ctx, sampleKey("nope")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("UpdateKey(unknown): %v, want ErrNotFound", err)
		}

		keys, total, err := s.ListKeys(ctx, store.KeyFilter{})
		if err != nil || total != 2 || len(keys) != 2 || keys[0].Token != "tok1" || keys[1].Token != "tok3" {
			t.Fatalf("ListKeys: %v total %d keys %v", err, total, keys)
		}
		keys, total, _ = s.ListKeys(ctx, store.KeyFilter{TeamID: "team-x"})
		if total != 1 || len(keys) != 1 || keys[0].Token != "tok1" {
			t.Fatalf("ListKeys(team): total %d keys %v", total, keys)
		}
		keys, total, _ = s.ListKeys(ctx, store.KeyFilter{Page: 2, Size: 1})
		if total != 2 || len(keys) != 1 || keys[0].Token != "tok3" {
			t.Fatalf("ListKeys(page 2): total %d keys %v", total, keys)
		}

		if err := s.AddSpend(ctx, store.EntityKey, "tok1", 1.25); err != nil {
			t.Fatal(err)
		}
		regen := *k
		regen.Token = "tok1b"
		regen.KeyName = "sk-...new1"
		if err := s.RegenerateKey(ctx, "tok1", &regen); err != nil {
			t.Fatalf("RegenerateKey: %v", err)
		}
		if _, err := s.GetKey(ctx, "tok1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("old token after RegenerateKey: %v", err)
		}
		got, err = s.GetKey(ctx, "tok1b")
		if err != nil || got.Spend != 1.25 || got.KeyName != "sk-...new1" || got.Alias != k.Alias {
			t.Fatalf("RegenerateKey kept %+v, %v", got, err)
		}

		if err := s.DeleteKey(ctx, "tok1b"); err != nil {
			t.Fatalf("DeleteKey: %v", err)
		}
		if err := s.DeleteKey(ctx, "tok1b"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("DeleteKey twice: %v", err)
		}
	})
}

func TestTeamsAndUsers(t *testing.T) {
	forEachDriver(t, func(t *testing.T, ctx context.Context, s store.Store, _ string) {
		team := &store.Team{TeamID: "t1", Alias: "Team One", Limits: store.Limits{Models: []string{"claude"}, MaxBudget: ptr(10.0), RPMLimit: ptr[int64](5)},
			Metadata: map[string]any{"cost_center": "42"}, CreatedAt: t0, UpdatedAt: t0}
		if err := s.CreateTeam(ctx, team); err != nil {
			t.Fatalf("CreateTeam: %v", err)
		}
		if err := s.CreateTeam(ctx, team); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("CreateTeam twice: %v", err)
		}
		got, err := s.GetTeam(ctx, "t1")
		if err != nil || !reflect.DeepEqual(got, team) {
			t.Fatalf("GetTeam:\n got %+v, %v\nwant %+v", got, err, team)
		}
		team.Blocked = true
		team.Models = nil
		if err := s.UpdateTeam(ctx, team); err != nil {
			t.Fatal(err)
		}
		got, _ = s.GetTeam(ctx, "t1")
		if !got.Blocked || len(got.Models) != 0 {
			t.Fatalf("UpdateTeam not kept: %+v", got)
		}
		user := &store.User{UserID: "u1", Email: "a@example.com", Role: "internal_user", Limits: store.Limits{TPMLimit: ptr[int64](7)}, CreatedAt: t0, UpdatedAt: t0}
		if err := s.CreateUser(ctx, user); err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
		gotU, err := s.GetUser(ctx, "u1")
		if err != nil || !reflect.DeepEqual(gotU, user) {
			t.Fatalf("GetUser:\n got %+v, %v\nwant %+v", gotU, err, user)
		}
		user.Email = "b@example.com"
		if err := s.UpdateUser(ctx, user); err != nil {
			t.Fatal(err)
		}
		if gotU, _ = s.GetUser(ctx, "u1"); gotU.Email != "b@example.com" {
			t.Fatalf("UpdateUser not kept: %+v", gotU)
		}
		teams, n, err := s.ListTeams(ctx, store.ListFilter{})
		if err != nil || n != 1 || len(teams) != 1 {
			t.Fatalf("ListTeams: %v %d %v", err, n, teams)
		}
		users, n, err := s.ListUsers(ctx, store.ListFilter{})
		if err != nil || n != 1 || len(users) != 1 {
			t.Fatalf("ListUsers: %v %d %v", err, n, users)
		}

		// Deleting a team or user deletes their keys.
		for i, k := range []*store.Key{{Token: "a", TeamID: "t1"}, {Token: "b", TeamID: "t1", UserID: "u1"}, {Token: "c", UserID: "u1"}, {Token: "d"}} {
			k.KeyName = "sk-..." + k.Token
			k.CreatedAt = t0.Add(time.Duration(i) * time.Second)
			k.UpdatedAt = k.CreatedAt
			if err := s.CreateKey(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
		gone, err := s.DeleteTeam(ctx, "t1")
		if err != nil || !sameSet(gone, []string{"a", "b"}) {
			t.Fatalf("DeleteTeam: %v, deleted keys %v", err, gone)
		}
		if _, err := s.DeleteTeam(ctx, "t1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("DeleteTeam twice: %v", err)
		}
		gone, err = s.DeleteUser(ctx, "u1")
		if err != nil || !sameSet(gone, []string{"c"}) {
			t.Fatalf("DeleteUser: %v, deleted keys %v", err, gone)
		}
		if _, err := s.GetUser(ctx, "u1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetUser after delete: %v", err)
		}
		if _, total, _ := s.ListKeys(ctx, store.KeyFilter{}); total != 1 {
			t.Fatalf("%d keys left, want 1", total)
		}
	})
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, x := range a {
		m[x]++
	}
	for _, x := range b {
		m[x]--
	}
	for _, v := range m {
		if v != 0 {
			return false
		}
	}
	return true
}

func TestSpendLogs(t *testing.T) {
	forEachDriver(t, func(t *testing.T, ctx context.Context, s store.Store, _ string) {
		if err := s.CreateTeam(ctx, &store.Team{TeamID: "t1", CreatedAt: t0, UpdatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateUser(ctx, &store.User{UserID: "u1", CreatedAt: t0, UpdatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateKey(ctx, &store.Key{Token: "k1", KeyName: "sk-...k1", TeamID: "t1", UserID: "u1", CreatedAt: t0, UpdatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		rows := []store.SpendLog{
			{ID: "r1", RequestID: "req-1", KeyHash: "k1", KeyAlias: "bot", TeamID: "t1", UserID: "u1", EndUser: "alice", Model: "claude",
				Deployment: "claude#1", BedrockModel: "anthropic.claude-3", PromptTokens: 10, CompletionTokens: 20, CacheReadTokens: 3, CacheWriteTokens: 4,
				Cost: 0.25, StartTime: t0, EndTime: t0.Add(time.Second), Status: "success"},
			{ID: "r2", RequestID: "req-2", KeyHash: "k1", TeamID: "t1", UserID: "u1", Model: "claude", Cost: 0.5,
				StartTime: t0.Add(time.Hour), EndTime: t0.Add(time.Hour), Status: "failure", Prompt: "hello"},
			{RequestID: "req-3", KeyHash: "other", Cost: 1, StartTime: t0.Add(2 * time.Hour), EndTime: t0.Add(2 * time.Hour), Status: "success"},
		}
		n, err := s.InsertSpendLogs(ctx, rows)
		if err != nil || n != 3 {
			t.Fatalf("InsertSpendLogs: %d, %v", n, err)
		}
		if rows[2].ID == "" {
			t.Fatalf("InsertSpendLogs left a row without an id")
		}
		// A retried batch is counted once.
		n, err = s.InsertSpendLogs(ctx, rows[:2])
		if err != nil || n != 0 {
			t.Fatalf("InsertSpendLogs again: %d, %v", n, err)
		}
		k, _ := s.GetKey(ctx, "k1")
		tm, _ := s.GetTeam(ctx, "t1")
		u, _ := s.GetUser(ctx, "u1")
		if !near(k.Spend, 0.75) || !near(tm.Spend, 0.75) || !near(u.Spend, 0.75) {
			t.Fatalf("spend totals key %v team %v user %v, want 0.75 each", k.Spend, tm.Spend, u.Spend)
		}

		got, err := s.QuerySpendLogs(ctx, store.SpendFilter{KeyHash: "k1"})
		if err != nil || len(got) != 2 {
			t.Fatalf("QuerySpendLogs(key): %v %v", err, got)
		}
		if !reflect.DeepEqual(got[0], rows[0]) {
			t.Fatalf("spend log read back:\n got %+v\nwant %+v", got[0], rows[0])
		}
		if got[1].Prompt != "hello" {
			t.Fatalf("prompt not kept: %+v", got[1])
		}
		for _, c := range []struct {
			f    store.SpendFilter
			want int
			sum  float64
		}{
			{store.SpendFilter{}, 3, 1.75},
			{store.SpendFilter{TeamID: "t1"}, 2, 0.75},
			{store.SpendFilter{UserID: "u1"}, 2, 0.75},
			{store.SpendFilter{RequestID: "req-2"}, 1, 0.5},
			{store.SpendFilter{Start: t0.Add(time.Minute)}, 2, 1.5},
			{store.SpendFilter{Start: t0, End: t0.Add(time.Hour)}, 1, 0.25},
			{store.SpendFilter{Limit: 1}, 1, 1.75},
		} {
			got, err := s.QuerySpendLogs(ctx, c.f)
			if err != nil || len(got) != c.want {
				t.Errorf("QuerySpendLogs(%+v): %d rows, %v; want %d", c.f, len(got), err, c.want)
			}
			sum, err := s.TotalSpend(ctx, c.f)
			if err != nil || !near(sum, c.sum) {
				t.Errorf("TotalSpend(%+v) = %v, %v; want %v", c.f, sum, err, c.sum)
			}
		}

		// A batch larger than one statement takes, with an id twice in it:
		// each row is stored and counted once.
		big := make([]store.SpendLog, 1203)
		for i := range big {
			big[i] = store.SpendLog{ID: fmt.Sprintf("big-%d", i%1201), RequestID: "big", KeyHash: "k1", Cost: 0.001,
				StartTime: t0.Add(3 * time.Hour), EndTime: t0.Add(3 * time.Hour)}
		}
		if n, err := s.InsertSpendLogs(ctx, big); err != nil || n != 1201 {
			t.Fatalf("InsertSpendLogs(1203 rows, 1201 ids): %d, %v", n, err)
		}
		if k, _ = s.GetKey(ctx, "k1"); !near(k.Spend, 0.75+1.201) {
			t.Fatalf("key spend %v after the big batch, want %v", k.Spend, 0.75+1.201)
		}
		if got, _ := s.QuerySpendLogs(ctx, store.SpendFilter{RequestID: "big"}); len(got) != 1201 {
			t.Fatalf("%d rows of the big batch stored, want 1201", len(got))
		}

		if err := s.AddSpend(ctx, store.EntityTeam, "t1", 1); err != nil {
			t.Fatal(err)
		}
		if err := s.AddSpend(ctx, store.EntityUser, "nobody", 1); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("AddSpend(unknown user): %v", err)
		}
		if tm, _ = s.GetTeam(ctx, "t1"); !near(tm.Spend, 1.75) {
			t.Fatalf("team spend %v after AddSpend, want 1.75", tm.Spend)
		}
	})
}

// A batch written again with rows added to it (a write whose outcome was
// unknown, then more rows queued behind it) stores and counts only the new
// rows, in spend_daily as in the totals.
func TestSpendLogsPartlyStored(t *testing.T) {
	forEachDriver(t, func(t *testing.T, ctx context.Context, s store.Store, _ string) {
		if err := s.CreateKey(ctx, &store.Key{Token: "k1", KeyName: "sk-...k1"}); err != nil {
			t.Fatal(err)
		}
		row := func(i int) store.SpendLog {
			at := t0.Add(time.Duration(i) * time.Minute)
			return store.SpendLog{ID: fmt.Sprintf("row-%d", i), RequestID: fmt.Sprintf("req-%d", i), KeyHash: "k1", Model: "claude",
				PromptTokens: 10, Cost: 0.25, StartTime: at, EndTime: at, Status: "success"}
		}
		first := []store.SpendLog{row(0), row(1), row(2)}
		if n, err := s.InsertSpendLogs(ctx, first); err != nil || n != 3 {
			t.Fatalf("InsertSpendLogs: %d, %v", n, err)
		}
		again := []store.SpendLog{row(1), row(2), row(3), row(0), row(4)}
		if n, err := s.InsertSpendLogs(ctx, again); err != nil || n != 2 {
			t.Fatalf("InsertSpendLogs(3 stored, 2 new): %d, %v; want 2", n, err)
		}
		if k, _ := s.GetKey(ctx, "k1"); !near(k.Spend, 5*0.25) {
			t.Fatalf("key spend %v, want %v", k.Spend, 5*0.25)
		}
		got, err := s.QuerySpendLogs(ctx, store.SpendFilter{KeyHash: "k1"})
		if err != nil || len(got) != 5 {
			t.Fatalf("QuerySpendLogs: %d rows, %v; want 5", len(got), err)
		}
		days, err := s.SpendReport(ctx, store.SpendReportFilter{})
		if err != nil || len(days) != 1 || days[0].Requests != 5 || days[0].PromptTokens != 50 || !near(days[0].Spend, 5*0.25) {
			t.Fatalf("SpendReport: %+v, %v; want one day of 5 requests, 50 prompt tokens, $1.25", days, err)
		}
	})
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestBudgetResets(t *testing.T) {
	forEachDriver(t, func(t *testing.T, ctx context.Context, s store.Store, _ string) {
		due := t0.Add(-time.Minute)
		later := t0.Add(time.Hour)
		if err := s.CreateKey(ctx, &store.Key{Token: "k1", KeyName: "x", Limits: store.Limits{BudgetDuration: "1h", BudgetResetAt: &due}, CreatedAt: t0, UpdatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateKey(ctx, &store.Key{Token: "k2", KeyName: "y", Limits: store.Limits{BudgetDuration: "1h", BudgetResetAt: &later}, CreatedAt: t0, UpdatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateTeam(ctx, &store.Team{TeamID: "t1", Limits: store.Limits{BudgetDuration: "1d", BudgetResetAt: &due}, CreatedAt: t0, UpdatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		s.AddSpend(ctx, store.EntityKey, "k1", 3)
		s.AddSpend(ctx, store.EntityTeam, "t1", 3)
		refs, err := s.DueBudgetResets(ctx, t0)
		if err != nil || len(refs) != 2 {
			t.Fatalf("DueBudgetResets: %v %+v", err, refs)
		}
		for _, ref := range refs {
			if !ref.BudgetResetAt.Equal(due) {
				t.Fatalf("ref %+v: reset time %v, want %v", ref, ref.BudgetResetAt, due)
			}
			next := due.Add(time.Hour)
			if err := s.ResetSpend(ctx, ref, &next); err != nil {
				t.Fatal(err)
			}
		}
		k, _ := s.GetKey(ctx, "k1")
		tm, _ := s.GetTeam(ctx, "t1")
		if k.Spend != 0 || tm.Spend != 0 || !k.BudgetResetAt.Equal(due.Add(time.Hour)) {
			t.Fatalf("after reset: key %+v team %+v", k, tm)
		}
		// A reset already done by someone else is not done twice.
		s.AddSpend(ctx, store.EntityKey, "k1", 2)
		if err := s.ResetSpend(ctx, refs[0], nil); err != nil {
			t.Fatal(err)
		}
		if k, _ = s.GetKey(ctx, refs[0].ID); k.Spend != 2 {
			t.Fatalf("stale reset applied: spend %v", k.Spend)
		}
	})
}

// Opening again applies nothing twice and keeps the data; concurrent opens
// of one database (several instances starting) agree.
func TestReopen(t *testing.T) {
	forEachDriver(t, func(t *testing.T, ctx context.Context, s store.Store, url string) {
		if err := s.CreateKey(ctx, &store.Key{Token: "k1", KeyName: "x", CreatedAt: t0, UpdatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		v1, err := store.SchemaVersion(ctx, s)
		if err != nil || v1 < 1 {
			t.Fatalf("SchemaVersion: %d, %v", v1, err)
		}
		s.Close()
		var wg sync.WaitGroup
		stores := make([]store.Store, 3)
		errs := make([]error, 3)
		for i := range stores {
			wg.Add(1)
			go func() {
				defer wg.Done()
				stores[i], errs[i] = store.Open(ctx, url)
			}()
		}
		wg.Wait()
		for i, st := range stores {
			if errs[i] != nil {
				t.Fatalf("reopen %d: %v", i, errs[i])
			}
			defer st.Close()
			if v, _ := store.SchemaVersion(ctx, st); v != v1 {
				t.Fatalf("schema version %d after reopen, want %d", v, v1)
			}
			if _, err := st.GetKey(ctx, "k1"); err != nil {
				t.Fatalf("key lost on reopen: %v", err)
			}
		}
	})
}

func TestOpenRejects(t *testing.T) {
	ctx := context.Background()
	for _, url := range []string{"", "mysql://x/y", "sqlite://" + t.TempDir() + "/missing-dir/strata.db"} {
		if s, err := store.Open(ctx, url); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", url)
		}
	}
	_, err := store.Open(ctx, "postgres://strata:hunter2secret@127.0.0.1:1/db?connect_timeout=1")
	if err == nil {
		t.Fatal("Open of an unreachable Postgres succeeded")
	}
	if msg := err.Error(); contains(msg, "hunter2secret") {
		t.Fatalf("the error shows the password: %s", msg)
	}
}

func contains(s, sub string) bool {
	return len(sub) > 0 && len(s) >= len(sub) && (s == sub || len(s) > len(sub) && (s[:len(sub)] == sub || contains(s[1:], sub)))
}

func TestSpendLogPages(t *testing.T) {
	forEachDriver(t, func(t *testing.T, ctx context.Context, s store.Store, _ string) {
		var rows []store.SpendLog
		for i := range 25 {
			model, status := "claude", "success"
			if i%5 == 0 {
				model, status = "titan", "failure"
			}
			rows = append(rows, store.SpendLog{ID: fmt.Sprintf("p%02d", i), RequestID: fmt.Sprintf("req-%02d", i), KeyHash: "k1",
				Model: model, Status: status, Cost: 0.01, StartTime: t0.Add(time.Duration(i) * time.Minute), EndTime: t0.Add(time.Duration(i) * time.Minute)})
		}
		if _, err := s.InsertSpendLogs(ctx, rows); err != nil {
			t.Fatal(err)
		}
		ids := func(f store.SpendFilter) []string {
			t.Helper()
			got, err := s.QuerySpendLogs(ctx, f)
			if err != nil {
				t.Fatalf("QuerySpendLogs(%+v): %v", f, err)
			}
			var out []string
			for _, r := range got {
				out = append(out, r.ID)
			}
			return out
		}
		if got := ids(store.SpendFilter{NewestFirst: true, Limit: 3}); !reflect.DeepEqual(got, []string{"p24", "p23", "p22"}) {
			t.Errorf("first page newest first = %v", got)
		}
		if got := ids(store.SpendFilter{NewestFirst: true, Limit: 3, Offset: 3}); !reflect.DeepEqual(got, []string{"p21", "p20", "p19"}) {
			t.Errorf("second page newest first = %v", got)
		}
		if got := ids(store.SpendFilter{Offset: 23}); !reflect.DeepEqual(got, []string{"p23", "p24"}) {
			t.Errorf("offset without a limit = %v", got)
		}
		if got := ids(store.SpendFilter{Model: "titan", NewestFirst: true, Limit: 2, Offset: 1}); !reflect.DeepEqual(got, []string{"p15", "p10"}) {
			t.Errorf("titan, second and third newest = %v", got)
		}
		for _, c := range []struct {
			f    store.SpendFilter
			want int
		}{
			{store.SpendFilter{}, 25},
			{store.SpendFilter{Limit: 2, Offset: 4}, 25},
			{store.SpendFilter{Model: "titan"}, 5},
			{store.SpendFilter{Status: "success"}, 20},
			{store.SpendFilter{Status: "failure", Model: "claude"}, 0},
			{store.SpendFilter{Start: t0.Add(10 * time.Minute), End: t0.Add(20 * time.Minute)}, 10},
			{store.SpendFilter{Start: t0.Truncate(24 * time.Hour), End: t0.Truncate(24 * time.Hour).Add(24 * time.Hour), Status: "failure"}, 5},
			{store.SpendFilter{Start: t0.Truncate(24 * time.Hour).Add(24 * time.Hour)}, 0},
			{store.SpendFilter{End: t0.Truncate(24 * time.Hour)}, 0},
			{store.SpendFilter{KeyHash: "k1", Model: "claude", Status: "success"}, 20},
			{store.SpendFilter{KeyHash: "k2"}, 0},
			{store.SpendFilter{RequestID: "req-03"}, 1},
		} {
			if n, err := s.CountSpendLogs(ctx, c.f); err != nil || n != c.want {
				t.Errorf("CountSpendLogs(%+v) = %d, %v; want %d", c.f, n, err, c.want)
			}
		}
	})
}

func TestSpendReport(t *testing.T) {
	forEachDriver(t, func(t *testing.T, ctx context.Context, s store.Store, _ string) {
		if err := s.CreateTeam(ctx, &store.Team{TeamID: "t1", Alias: "Search", CreatedAt: t0, UpdatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateKey(ctx, &store.Key{Token: "k1", KeyName: "sk-...k1", Alias: "bot", TeamID: "t1", CreatedAt: t0, UpdatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		day1 := time.Date(2026, 3, 4, 23, 59, 59, 0, time.UTC)
		day2 := day1.Add(2 * time.Second) // just after midnight UTC
		log := func(id, key, team, model string, at time.Time, cost float64, status string) store.SpendLog {
			return store.SpendLog{ID: id, RequestID: id, KeyHash: key, TeamID: team, Model: model, Cost: cost,
				PromptTokens: 10, CompletionTokens: 2, StartTime: at, EndTime: at, Status: status}
		}
		// Two batches: the second adds to the days the first wrote.
		if _, err := s.InsertSpendLogs(ctx, []store.SpendLog{
			log("a", "k1", "t1", "claude", day1, 0.5, "success"),
			log("b", "k1", "t1", "claude", day1, 0.25, "failure"),
			log("c", "k2", "", "titan", day1, 1, "success"),
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.InsertSpendLogs(ctx, []store.SpendLog{
			log("a", "k1", "t1", "claude", day1, 0.5, "success"), // a retry: counted once
			log("d", "k1", "t1", "claude", day2, 2, "success"),
			log("e", "k2", "", "claude", day2, 4, "success"),
		}); err != nil {
			t.Fatal(err)
		}
		report := func(f store.SpendReportFilter) []store.SpendDay {
			t.Helper()
			got, err := s.SpendReport(ctx, f)
			if err != nil {
				t.Fatalf("SpendReport(%+v): %v", f, err)
			}
			for i := range got {
				got[i].Spend = math.Round(got[i].Spend*1000) / 1000
			}
			return got
		}
		want := []store.SpendDay{
			{Day: "2026-03-04", Group: "k1", Label: "bot", Spend: 0.75, PromptTokens: 20, CompletionTokens: 4, Requests: 2, FailedRequests: 1},
			{Day: "2026-03-04", Group: "k2", Spend: 1, PromptTokens: 10, CompletionTokens: 2, Requests: 1},
			{Day: "2026-03-05", Group: "k1", Label: "bot", Spend: 2, PromptTokens: 10, CompletionTokens: 2, Requests: 1},
			{Day: "2026-03-05", Group: "k2", Spend: 4, PromptTokens: 10, CompletionTokens: 2, Requests: 1},
		}
		if got := report(store.SpendReportFilter{GroupBy: store.GroupByKey}); !reflect.DeepEqual(got, want) {
			t.Errorf("by key:\n got %+v\nwant %+v", got, want)
		}
		want = []store.SpendDay{
			{Day: "2026-03-04", Group: "", Spend: 1, PromptTokens: 10, CompletionTokens: 2, Requests: 1},
			{Day: "2026-03-04", Group: "t1", Label: "Search", Spend: 0.75, PromptTokens: 20, CompletionTokens: 4, Requests: 2, FailedRequests: 1},
			{Day: "2026-03-05", Group: "", Spend: 4, PromptTokens: 10, CompletionTokens: 2, Requests: 1},
			{Day: "2026-03-05", Group: "t1", Label: "Search", Spend: 2, PromptTokens: 10, CompletionTokens: 2, Requests: 1},
		}
		if got := report(store.SpendReportFilter{GroupBy: store.GroupByTeam}); !reflect.DeepEqual(got, want) {
			t.Errorf("by team:\n got %+v\nwant %+v", got, want)
		}
		want = []store.SpendDay{
			{Day: "2026-03-05", Group: "claude", Spend: 6, PromptTokens: 20, CompletionTokens: 4, Requests: 2},
		}
		if got := report(store.SpendReportFilter{GroupBy: store.GroupByModel, StartDay: "2026-03-05", EndDay: "2026-03-05"}); !reflect.DeepEqual(got, want) {
			t.Errorf("by model on the second day:\n got %+v\nwant %+v", got, want)
		}
		want = []store.SpendDay{
			{Day: "2026-03-04", Spend: 0.75, PromptTokens: 20, CompletionTokens: 4, Requests: 2, FailedRequests: 1},
			{Day: "2026-03-05", Spend: 2, PromptTokens: 10, CompletionTokens: 2, Requests: 1},
		}
		if got := report(store.SpendReportFilter{KeyHash: "k1"}); !reflect.DeepEqual(got, want) {
			t.Errorf("one key per day:\n got %+v\nwant %+v", got, want)
		}
		// The top key over both days (k2, 5 against 2.75) is kept; k1 is
		// summed into each day's other group, last in its day.
		want = []store.SpendDay{
			{Day: "2026-03-04", Group: "k2", Spend: 1, PromptTokens: 10, CompletionTokens: 2, Requests: 1},
			{Day: "2026-03-04", Other: true, Spend: 0.75, PromptTokens: 20, CompletionTokens: 4, Requests: 2, FailedRequests: 1},
			{Day: "2026-03-05", Group: "k2", Spend: 4, PromptTokens: 10, CompletionTokens: 2, Requests: 1},
			{Day: "2026-03-05", Other: true, Spend: 2, PromptTokens: 10, CompletionTokens: 2, Requests: 1},
		}
		if got := report(store.SpendReportFilter{GroupBy: store.GroupByKey, Top: 1}); !reflect.DeepEqual(got, want) {
			t.Errorf("top key:\n got %+v\nwant %+v", got, want)
		}
		// Filters apply to the ranking and to the days alike: on claude,
		// k2 spent 4 on the second day only.
		want = []store.SpendDay{
			{Day: "2026-03-04", Other: true, Spend: 0.75, PromptTokens: 20, CompletionTokens: 4, Requests: 2, FailedRequests: 1},
			{Day: "2026-03-05", Group: "k2", Spend: 4, PromptTokens: 10, CompletionTokens: 2, Requests: 1},
			{Day: "2026-03-05", Other: true, Spend: 2, PromptTokens: 10, CompletionTokens: 2, Requests: 1},
		}
		if got := report(store.SpendReportFilter{GroupBy: store.GroupByKey, Model: "claude", StartDay: "2026-03-01", Top: 1}); !reflect.DeepEqual(got, want) {
			t.Errorf("top key on claude:\n got %+v\nwant %+v", got, want)
		}
		// As many groups as the top or fewer: the report is the whole one.
		want = report(store.SpendReportFilter{GroupBy: store.GroupByTeam})
		if got := report(store.SpendReportFilter{GroupBy: store.GroupByTeam, Top: 2}); !reflect.DeepEqual(got, want) {
			t.Errorf("top 2 of 2 teams:\n got %+v\nwant %+v", got, want)
		}
		if got := report(store.SpendReportFilter{Model: "titan", EndDay: "2026-03-03"}); len(got) != 0 {
			t.Errorf("before the first day: %+v", got)
		}
		if _, err := s.SpendReport(ctx, store.SpendReportFilter{GroupBy: "region"}); err == nil {
			t.Errorf("SpendReport grouped by an unknown column: no error")
		}
	})
}
