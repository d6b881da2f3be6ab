package bedrock

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
)

// CountTokensRequest is CountTokens' body: exactly one of the inputs.
type CountTokensRequest struct {
	Input CountTokensInput `json:"input"`
}

// CountTokensInput is a union: an InvokeModel body or a Converse request.
type CountTokensInput struct {
	InvokeModel *InvokeModelTokens `json:"invokeModel,omitempty"`
	Converse    *ConverseTokens    `json:"converse,omitempty"`
}

// InvokeModelTokens is a model-native body; a blob, base64 in JSON.
type InvokeModelTokens struct {
	Body []byte `json:"body"`
}

// ConverseTokens is the part of a Converse request that is counted.
type ConverseTokens struct {
	Messages                     []Message       `json:"messages,omitempty"`
	System                       []SystemBlock   `json:"system,omitempty"`
	ToolConfig                   *ToolConfig     `json:"toolConfig,omitempty"`
	AdditionalModelRequestFields json.RawMessage `json:"additionalModelRequestFields,omitempty"`
}

// CountTokens calls the CountTokens API and returns the input tokens the
// request would use.
func (c *Client) CountTokens(ctx context.Context, modelID string, in *CountTokensRequest) (int, error) {
	body, err := json.Marshal(in)
	if err != nil {
		return 0, fmt.Errorf("bedrock: encode count-tokens request: %w", err)
	}
	resp, err := c.do(ctx, modelID, "count-tokens", "application/json", body)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, &TransportError{Err: fmt.Errorf("read count-tokens response: %w", err)}
	}
	var out struct {
		InputTokens *int `json:"inputTokens"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.InputTokens == nil {
		return 0, &TransportError{Err: fmt.Errorf("decode count-tokens response: %.200s", raw)}
	}
	return *out.InputTokens, nil
}
