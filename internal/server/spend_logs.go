package server

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/strata-gateway/strata/internal/auth"
	"github.com/strata-gateway/strata/internal/openai"
	"github.com/strata-gateway/strata/internal/store"
)

// spendLogView is a spend log as LiteLLM's /spend/logs lists it.
type spendLogView struct {
	RequestID                string         `json:"request_id"`
	APIKey                   string         `json:"api_key"`
	Spend                    float64        `json:"spend"`
	TotalTokens              int64          `json:"total_tokens"`
	PromptTokens             int64          `json:"prompt_tokens"`
	CompletionTokens         int64          `json:"completion_tokens"`
	CacheReadInputTokens     int64          `json:"cache_read_input_tokens"`
	CacheCreationInputTokens int64          `json:"cache_creation_input_tokens"`
	StartTime                time.Time      `json:"startTime"`
	EndTime                  time.Time      `json:"endTime"`
	Model                    string         `json:"model"`
	ModelID                  string         `json:"model_id"`
	User                     string         `json:"user"`
	TeamID                   string         `json:"team_id"`
	EndUser                  string         `json:"end_user"`
	Status                   string         `json:"status"`
	Metadata                 map[string]any `json:"metadata"`
	Messages                 *string        `json:"messages,omitempty"`
}

// spendLogs serves GET /spend/logs with LiteLLM's filters: api_key (or
// key: a key or its hash), user_id, team_id, request_id, start_date and
// end_date (a date, inclusive, an RFC 3339 time or "2026-01-31 15:04:05"
// in UTC), and limit.
func (s *Server) spendLogs(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f, err := spendFilterOf(q)
	if err != nil {
		return err
	}
	if v := q.Get("limit"); v != "" {
		if f.Limit, err = strconv.Atoi(v); err != nil || f.Limit < 1 {
			return openai.InvalidRequest("limit", "limit must be a whole number >= 1, got %q", v)
		}
	}
	rows, err := s.spendStore.QuerySpendLogs(r.Context(), f)
	if err != nil {
		return errSpendUnreadable(err)
	}
	writeJSON(w, http.StatusOK, spendLogViews(rows))
	return nil
}

// spendFilterOf reads the filters /spend/logs and /spend/logs/ui share.
func spendFilterOf(q url.Values) (store.SpendFilter, error) {
	var f store.SpendFilter
	key := q.Get("api_key")
	if key == "" {
		key = q.Get("key")
	}
	if key != "" {
		f.KeyHash = auth.TokenOf(key)
	}
	f.UserID, f.TeamID, f.RequestID = q.Get("user_id"), q.Get("team_id"), q.Get("request_id")
	var err error
	if f.Start, err = dateParam(q.Get("start_date"), "start_date", false); err != nil {
		return f, err
	}
	if f.End, err = dateParam(q.Get("end_date"), "end_date", true); err != nil {
		return f, err
	}
	if !f.Start.IsZero() && !f.End.IsZero() && !f.End.After(f.Start) {
		return f, openai.InvalidRequest("end_date", "end_date must be after start_date")
	}
	return f, nil
}

func errSpendUnreadable(err error) error {
	return &openai.Error{Status: http.StatusServiceUnavailable, Type: openai.TypeUnavailable, Code: "database_unavailable",
		Message: "the spend logs cannot be read: the database did not answer", Err: err}
}

func spendLogViews(rows []store.SpendLog) []spendLogView {
	out := make([]spendLogView, len(rows))
	for i := range rows {
		row := &rows[i]
		out[i] = spendLogView{
			RequestID: row.RequestID, APIKey: row.KeyHash, Spend: row.Cost,
			TotalTokens: row.PromptTokens + row.CompletionTokens, PromptTokens: row.PromptTokens, CompletionTokens: row.CompletionTokens,
			CacheReadInputTokens: row.CacheReadTokens, CacheCreationInputTokens: row.CacheWriteTokens,
			StartTime: row.StartTime.UTC(), EndTime: row.EndTime.UTC(),
			Model: row.Model, ModelID: row.BedrockModel, User: row.UserID, TeamID: row.TeamID, EndUser: row.EndUser,
			Status:   row.Status,
			Metadata: map[string]any{"user_api_key_alias": row.KeyAlias, "deployment": row.Deployment},
		}
		if row.Prompt != "" {
			out[i].Messages = &row.Prompt
		}
	}
	return out
}

// spendLogsPage is a page of /spend/logs/ui, as LiteLLM's admin UI reads it.
type spendLogsPage struct {
	Data       []spendLogView `json:"data"`
	Total      int            `json:"total"`
	Page       int            `json:"page"`
	PageSize   int            `json:"page_size"`
	TotalPages int            `json:"total_pages"`
}

const (
	defaultSpendPageSize = 50
	maxSpendPageSize     = 1000
)

// spendLogsUI serves GET /spend/logs/ui: the filters of /spend/logs plus
// model and status_filter, newest first, a page at a time (page from 1,
// page_size up to 1000), with the total that matched.
func (s *Server) spendLogsUI(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f, err := spendFilterOf(q)
	if err != nil {
		return err
	}
	f.Model, f.Status, f.NewestFirst = q.Get("model"), q.Get("status_filter"), true
	page, size := 1, defaultSpendPageSize
	if v := q.Get("page"); v != "" {
		if page, err = strconv.Atoi(v); err != nil || page < 1 {
			return openai.InvalidRequest("page", "page must be a whole number >= 1, got %q", v)
		}
	}
	if v := q.Get("page_size"); v != "" {
		if size, err = strconv.Atoi(v); err != nil || size < 1 || size > maxSpendPageSize {
			return openai.InvalidRequest("page_size", "page_size must be a whole number from 1 to %d, got %q", maxSpendPageSize, v)
		}
	}
	total, err := s.spendStore.CountSpendLogs(r.Context(), f)
	if err != nil {
		return errSpendUnreadable(err)
	}
	f.Limit, f.Offset = size, (page-1)*size
	var rows []store.SpendLog
	if f.Offset < total {
		if rows, err = s.spendStore.QuerySpendLogs(r.Context(), f); err != nil {
			return errSpendUnreadable(err)
		}
	}
	writeJSON(w, http.StatusOK, spendLogsPage{Data: spendLogViews(rows), Total: total, Page: page, PageSize: size,
		TotalPages: (total + size - 1) / size})
	return nil
}

// dateParam reads start_date or end_date: "2026-01-31" or an RFC 3339
// time. A date given as end_date includes that whole day.
func dateParam(v, name string, end bool) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateTime, v); err == nil {
		return t, nil // LiteLLM's UI sends "2026-01-31 15:04:05", in UTC
	}
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return time.Time{}, openai.InvalidRequest(name, "%s must be a date (2026-01-31) or an RFC 3339 time, got %q", name, v)
	}
	if end {
		t = t.AddDate(0, 0, 1)
	}
	return t, nil
}
