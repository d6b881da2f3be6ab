package server

import (
	"net/http"
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
// end_date (a date, inclusive, or an RFC 3339 time), and limit.
func (s *Server) spendLogs(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
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
		return err
	}
	if f.End, err = dateParam(q.Get("end_date"), "end_date", true); err != nil {
		return err
	}
	if !f.Start.IsZero() && !f.End.IsZero() && !f.End.After(f.Start) {
		return openai.InvalidRequest("end_date", "end_date must be after start_date")
	}
	if v := q.Get("limit"); v != "" {
		if f.Limit, err = strconv.Atoi(v); err != nil || f.Limit < 1 {
			return openai.InvalidRequest("limit", "limit must be a whole number >= 1, got %q", v)
		}
	}
	rows, err := s.spendStore.QuerySpendLogs(r.Context(), f)
	if err != nil {
		return &openai.Error{Status: http.StatusServiceUnavailable, Type: openai.TypeUnavailable, Code: "database_unavailable",
			Message: "the spend logs cannot be read: the database did not answer", Err: err}
	}
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
	writeJSON(w, http.StatusOK, out)
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
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return time.Time{}, openai.InvalidRequest(name, "%s must be a date (2026-01-31) or an RFC 3339 time, got %q", name, v)
	}
	if end {
		t = t.AddDate(0, 0, 1)
	}
	return t, nil
}
