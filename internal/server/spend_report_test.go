package server

import (
	"encoding/json"
	"testing"

	"github.com/strata-gateway/strata/internal/store"
)

// A day's group in /global/spend/report carries the id fields of its
// grouping only; the sum of the groups beyond top says "other" and names
// no group, so a chart cannot take it for one.
func TestSpendGroupOf(t *testing.T) {
	for _, c := range []struct {
		groupBy string
		day     store.SpendDay
		want    string
	}{
		{"api_key", store.SpendDay{Group: "abc123", Label: "team-a-bot", Spend: 0.5, PromptTokens: 3, CompletionTokens: 4, Requests: 2, FailedRequests: 1},
			`{"api_key":"abc123","key_alias":"team-a-bot","total_spend":0.5,"total_tokens":7,"prompt_tokens":3,"completion_tokens":4,"api_requests":2,"failed_requests":1}`},
		{"api_key", store.SpendDay{Other: true, Spend: 1.25, PromptTokens: 10, Requests: 5},
			`{"other":true,"total_spend":1.25,"total_tokens":10,"prompt_tokens":10,"completion_tokens":0,"api_requests":5,"failed_requests":0}`},
		{"team", store.SpendDay{Other: true, Requests: 1},
			`{"other":true,"total_spend":0,"total_tokens":0,"prompt_tokens":0,"completion_tokens":0,"api_requests":1,"failed_requests":0}`},
		{"team", store.SpendDay{Group: "", Requests: 1},
			`{"team_id":"","team_name":"Unassigned Team","total_spend":0,"total_tokens":0,"prompt_tokens":0,"completion_tokens":0,"api_requests":1,"failed_requests":0}`},
		{"team", store.SpendDay{Group: "t-1", Requests: 1},
			`{"team_id":"t-1","team_name":"t-1","total_spend":0,"total_tokens":0,"prompt_tokens":0,"completion_tokens":0,"api_requests":1,"failed_requests":0}`},
		{"user", store.SpendDay{Group: "u-1"},
			`{"user_id":"u-1","total_spend":0,"total_tokens":0,"prompt_tokens":0,"completion_tokens":0,"api_requests":0,"failed_requests":0}`},
		{"model", store.SpendDay{Group: "bedrock-claude"},
			`{"model":"bedrock-claude","total_spend":0,"total_tokens":0,"prompt_tokens":0,"completion_tokens":0,"api_requests":0,"failed_requests":0}`},
	} {
		g := spendGroupOf(c.groupBy, &c.day)
		got, err := json.Marshal(g)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != c.want {
			t.Errorf("%s %+v:\n got %s\nwant %s", c.groupBy, c.day, got, c.want)
		}
	}
}
