package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/strata-gateway/strata/internal/bedrock"
	"github.com/strata-gateway/strata/internal/emulator"
	"github.com/strata-gateway/strata/internal/store/storetest"
)

const responsesMasterKey = "sk-master-responses-test"

func responsesStoreConfig(endpoint, databaseURL string) string {
	return seedConfig(endpoint) + fmt.Sprintf(`general_settings:
  master_key: %s
  database_url: %s
`, responsesMasterKey, databaseURL)
}

// newVirtualKey makes a key with the master key, through the admin API.
func newVirtualKey(t *testing.T, g *gateway) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, g.URL+"/key/generate", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+responsesMasterKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var k struct {
		Key string `json:"key"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&k); err != nil || resp.StatusCode != http.StatusOK || k.Key == "" {
		t.Fatalf("/key/generate: status %d, %v", resp.StatusCode, err)
	}
	return k.Key
}

func isStatus(err error, status int) bool {
	var apiErr *openai.Error
	return errors.As(err, &apiErr) && apiErr.StatusCode == status
}

// Stored responses, on SQLite and PostgreSQL: previous_response_id
// continues a conversation across a restart of the gateway; GET, input
// items and DELETE read and remove a response; reasoning is stored with its
// signature; another key sees none of it.
func TestResponsesStored(t *testing.T) {
	for _, driver := range storetest.Drivers {
		t.Run(driver, func(t *testing.T) { testResponsesStored(t, driver) })
	}
}

func testResponsesStored(t *testing.T, driver string) {
	em, endpoint := bedrockEmulator(t)
	config := responsesStoreConfig(endpoint, storetest.URL(t, driver))
	g := startGateway(t, config, seedEnv...)
	keyA, keyB := newVirtualKey(t, g), newVirtualKey(t, g)
	a := g.client(option.WithAPIKey(keyA))

	em.Script(emulator.Script{Response: bedrock.ConverseResponse{
		Output: bedrock.ConverseOutput{Message: &bedrock.Message{Role: "assistant", Content: []bedrock.ContentBlock{
			{ReasoningContent: &bedrock.ReasoningContent{ReasoningText: &bedrock.ReasoningText{Text: "A name to remember.", Signature: "sig-stored-1"}}},
			{Text: text("Hello Ada.")},
		}}},
		StopReason: "end_turn",
		Usage:      bedrock.TokenUsage{InputTokens: 5, OutputTokens: 3, TotalTokens: 8},
	}})
	first, err := a.Responses.New(ctxTimeout(t), responses.ResponseNewParams{
		Model:     "bedrock-claude",
		Input:     responses.ResponseNewParamsInputUnion{OfString: openai.String("My name is Ada.")},
		Reasoning: responses.ReasoningParam{Effort: responses.ReasoningEffortLow},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(first.RawJSON(), `"store":true`) || first.OutputText() != "Hello Ada." || first.Output[0].Type != "reasoning" || first.Output[0].EncryptedContent != "" {
		t.Fatalf("first response %s", first.RawJSON())
	}

	// A restart: what was stored is still there.
	g.stop(t)
	g = startGateway(t, config, seedEnv...)
	a = g.client(option.WithAPIKey(keyA))
	b := g.client(option.WithAPIKey(keyB))

	second, err := a.Responses.New(ctxTimeout(t), responses.ResponseNewParams{
		Model:              "bedrock-claude",
		Input:              responses.ResponseNewParamsInputUnion{OfString: openai.String("What is my name?")},
		PreviousResponseID: openai.String(first.ID),
		Reasoning:          responses.ReasoningParam{Effort: responses.ReasoningEffortLow},
	})
	if err != nil {
		t.Fatal(err)
	}
	if second.PreviousResponseID != first.ID || second.OutputText() != "echo: What is my name?" {
		t.Errorf("second response %s", second.RawJSON())
	}
	sent := lastCall(t, em).Converse.Messages
	if len(sent) != 3 || *sent[0].Content[0].Text != "My name is Ada." || sent[1].Role != "assistant" ||
		sent[1].Content[0].ReasoningContent == nil || sent[1].Content[0].ReasoningContent.ReasoningText.Signature != "sig-stored-1" ||
		*sent[1].Content[1].Text != "Hello Ada." || *sent[2].Content[0].Text != "What is my name?" {
		t.Fatalf("conversation sent to Bedrock: %+v", sent)
	}

	got, err := a.Responses.Get(ctxTimeout(t), first.ID, responses.ResponseGetParams{})
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != first.ID || got.OutputText() != "Hello Ada." || got.Output[0].EncryptedContent != "" {
		t.Errorf("GET %s", got.RawJSON())
	}
	got, err = a.Responses.Get(ctxTimeout(t), first.ID, responses.ResponseGetParams{
		Include: []responses.ResponseIncludable{responses.ResponseIncludableReasoningEncryptedContent},
	})
	if err != nil || got.Output[0].EncryptedContent == "" || strings.Contains(got.Output[0].EncryptedContent, "sig-stored-1") {
		t.Errorf("GET with include: %v %s", err, got.RawJSON())
	}
	items, err := a.Responses.InputItems.List(ctxTimeout(t), second.ID, responses.InputItemListParams{})
	if err != nil {
		t.Fatal(err)
	}
	if len(items.Data) != 1 || items.Data[0].Type != "message" || items.Data[0].ID == "" ||
		len(items.Data[0].AsMessage().Content) != 1 || items.Data[0].AsMessage().Content[0].Text != "What is my name?" {
		t.Errorf("input items %s", items.RawJSON())
	}

	// Input items page as OpenAI pages them: newest first by default.
	three, err := a.Responses.New(ctxTimeout(t), responses.ResponseNewParams{
		Model: "bedrock-claude",
		Input: responses.ResponseNewParamsInputUnion{OfInputItemList: responses.ResponseInputParam{
			responses.ResponseInputItemParamOfMessage("one", responses.EasyInputMessageRoleUser),
			responses.ResponseInputItemParamOfMessage("two", responses.EasyInputMessageRoleAssistant),
			responses.ResponseInputItemParamOfMessage("three", responses.EasyInputMessageRoleUser),
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	page, err := a.Responses.InputItems.List(ctxTimeout(t), three.ID, responses.InputItemListParams{Limit: openai.Int(2)})
	if err != nil {
		t.Fatal(err)
	}
	texts := func(p []responses.ResponseItemUnion) (out []string) {
		for _, it := range p {
			out = append(out, it.AsMessage().Content[0].Text)
		}
		return out
	}
	if got := texts(page.Data); !page.HasMore || len(got) != 2 || got[0] != "three" || got[1] != "two" {
		t.Errorf("first page %v, has_more %v", got, page.HasMore)
	}
	rest, err := a.Responses.InputItems.List(ctxTimeout(t), three.ID, responses.InputItemListParams{
		After: openai.String(page.Data[1].ID), Order: responses.InputItemListParamsOrderDesc,
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(rest.Data); rest.HasMore || len(got) != 1 || got[0] != "one" {
		t.Errorf("second page %v, has_more %v", got, rest.HasMore)
	}
	asc, err := a.Responses.InputItems.List(ctxTimeout(t), three.ID, responses.InputItemListParams{Order: responses.InputItemListParamsOrderAsc})
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(asc.Data); strings.Join(got, " ") != "one two three" {
		t.Errorf("ascending %v", got)
	}

	// Another key sees nothing, deletes nothing, continues nothing.
	if _, err := b.Responses.Get(ctxTimeout(t), first.ID, responses.ResponseGetParams{}); !isStatus(err, http.StatusNotFound) {
		t.Errorf("another key read the response: %v", err)
	}
	if err := b.Responses.Delete(ctxTimeout(t), first.ID); !isStatus(err, http.StatusNotFound) {
		t.Errorf("another key deleted the response: %v", err)
	}
	_, err = b.Responses.New(ctxTimeout(t), responses.ResponseNewParams{
		Model: "bedrock-claude", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")},
		PreviousResponseID: openai.String(first.ID),
	})
	if !isStatus(err, http.StatusNotFound) {
		t.Errorf("another key continued the conversation: %v", err)
	}

	// store: false keeps nothing; DELETE removes.
	unstored, err := a.Responses.New(ctxTimeout(t), responses.ResponseNewParams{
		Model: "bedrock-claude", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("forget me")}, Store: openai.Bool(false),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Responses.Get(ctxTimeout(t), unstored.ID, responses.ResponseGetParams{}); !isStatus(err, http.StatusNotFound) {
		t.Errorf("a store:false response was kept: %v", err)
	}
	if err := a.Responses.Delete(ctxTimeout(t), first.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Responses.Get(ctxTimeout(t), first.ID, responses.ResponseGetParams{}); !isStatus(err, http.StatusNotFound) {
		t.Errorf("read after delete: %v", err)
	}
}
