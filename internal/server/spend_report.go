package server

import (
	"cmp"
	"net/http"
	"strconv"
	"time"

	"github.com/strata-gateway/strata/internal/auth"
	"github.com/strata-gateway/strata/internal/openai"
	"github.com/strata-gateway/strata/internal/store"
)

// spendReportGroups maps LiteLLM's group_by values (and model, which
// LiteLLM lacks) to the store's groupings and to the name of each day's
// list in the answer.
var spendReportGroups = map[string]struct{ by, list string }{
	"team":    {store.GroupByTeam, "teams"},
	"api_key": {store.GroupByKey, "api_keys"},
	"user":    {store.GroupByUser, "users"},
	"model":   {store.GroupByModel, "models"},
}

// spendGroup is one group's spend on one day. Only the id fields of the
// report's grouping are set.
type spendGroup struct {
	TeamID   *string `json:"team_id,omitempty"`
	TeamName *string `json:"team_name,omitempty"`
	APIKey   *string `json:"api_key,omitempty"`
	KeyAlias *string `json:"key_alias,omitempty"`
	UserID   *string `json:"user_id,omitempty"`
	Model    *string `json:"model,omitempty"`
	// Other says the group sums every group beyond the top asked for.
	Other            bool    `json:"other,omitempty"`
	TotalSpend       float64 `json:"total_spend"`
	TotalTokens      int64   `json:"total_tokens"`
	PromptTokens     int64   `json:"prompt_tokens"`
	CompletionTokens int64   `json:"completion_tokens"`
	Requests         int64   `json:"api_requests"`
	FailedRequests   int64   `json:"failed_requests"`
}

// spendReport serves GET /global/spend/report, LiteLLM's daily spend
// report: start_date and end_date (dates, inclusive, UTC; required),
// group_by team (the default), api_key, user or model, and the filters
// api_key, team_id, internal_user_id and model. Each day with spend is a
// {"group_by_day", "<teams|api_keys|users|models>": [...]} object. top=N
// keeps the N groups that spent most over the whole range and sums the
// others into one group marked "other", so that a chart of thousands of
// keys stays small.
func (s *Server) spendReport(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	groupBy := cmp.Or(q.Get("group_by"), "team")
	g, ok := spendReportGroups[groupBy]
	if !ok {
		return openai.InvalidRequest("group_by", "group_by must be team, api_key, user or model, got %q", groupBy)
	}
	f := store.SpendReportFilter{GroupBy: g.by, TeamID: q.Get("team_id"), UserID: q.Get("internal_user_id"), Model: q.Get("model")}
	if k := q.Get("api_key"); k != "" {
		f.KeyHash = auth.TokenOf(k)
	}
	for _, p := range []struct {
		name string
		day  *string
	}{{"start_date", &f.StartDay}, {"end_date", &f.EndDay}} {
		v := q.Get(p.name)
		if v == "" {
			return openai.InvalidRequest(p.name, "%s is required: a date such as 2026-01-31", p.name)
		}
		d, err := time.Parse(time.DateOnly, v)
		if err != nil {
			return openai.InvalidRequest(p.name, "%s must be a date such as 2026-01-31, got %q", p.name, v)
		}
		*p.day = d.Format(time.DateOnly)
	}
	if f.EndDay < f.StartDay {
		return openai.InvalidRequest("end_date", "end_date must not be before start_date")
	}
	top := 0
	if v := q.Get("top"); v != "" {
		var err error
		if top, err = strconv.Atoi(v); err != nil || top < 1 {
			return openai.InvalidRequest("top", "top must be a whole number >= 1, got %q", v)
		}
	}
	f.Top = top
	days, err := s.spendStore.SpendReport(r.Context(), f)
	if err != nil {
		return errSpendUnreadable(err)
	}
	out := []map[string]any{}
	for i := 0; i < len(days); {
		day := days[i].Day
		groups := []spendGroup{}
		for ; i < len(days) && days[i].Day == day; i++ {
			groups = append(groups, spendGroupOf(groupBy, &days[i]))
		}
		out = append(out, map[string]any{"group_by_day": day + "T00:00:00+00:00", g.list: groups})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func spendGroupOf(groupBy string, d *store.SpendDay) spendGroup {
	g := spendGroup{TotalSpend: d.Spend, TotalTokens: d.PromptTokens + d.CompletionTokens, PromptTokens: d.PromptTokens,
		CompletionTokens: d.CompletionTokens, Requests: d.Requests, FailedRequests: d.FailedRequests}
	if d.Other {
		g.Other = true
		return g
	}
	id, label := d.Group, d.Label
	switch groupBy {
	case "team":
		if label == "" {
			label = "Unassigned Team"
			if id != "" {
				label = id
			}
		}
		g.TeamID, g.TeamName = &id, &label
	case "api_key":
		g.APIKey, g.KeyAlias = &id, &label
	case "user":
		g.UserID = &id
	case "model":
		g.Model = &id
	}
	return g
}
