package emulator

import (
	"encoding/json"

	"github.com/strata-gateway/strata/internal/bedrock"
)

// countTokensRequest is CountTokens' body (botocore's CountTokensRequest):
// input is a union of an InvokeModel body (a blob, so base64 in JSON) and
// the parts of a Converse request that count.
type countTokensRequest struct {
	Input struct {
		InvokeModel *struct {
			Body []byte `json:"body"`
		} `json:"invokeModel"`
		Converse *bedrock.ConverseRequest `json:"converse"`
	} `json:"input"`
}

// serveCountTokens answers POST /model/{modelId}/count-tokens: the words
// of the input, the emulator's token, as the other operations count them.
func (e *Emulator) serveCountTokens(x *exchange) error {
	modelID := x.call.ModelID
	var req countTokensRequest
	if err := json.Unmarshal(x.body, &req); err != nil {
		return validationError("Malformed input request, please reformat your input and try again.")
	}
	in := req.Input
	var tokens int
	switch {
	case in.InvokeModel != nil && in.Converse != nil, in.InvokeModel == nil && in.Converse == nil:
		return validationError("input: exactly one of invokeModel or converse must be set")
	case in.InvokeModel != nil:
		fam := invokeFamilyOf(modelID)
		if !validModelID(modelID) || fam == nil {
			return validationError("The provided model identifier is invalid.")
		}
		if fam.prefix != "anthropic." {
			return validationError("The provided model doesn't support counting tokens.")
		}
		body, err := decodeInvokeBody(in.InvokeModel.Body)
		if err != nil {
			return err
		}
		if err := validateBody(fam.schema(modelID), body); err != nil {
			return err
		}
		if err := fam.check(modelID, body); err != nil {
			return err
		}
		tokens = anthropicChat.read(body).words
	default:
		x.call.Converse = in.Converse
		if !validModelID(modelID) {
			return validationError("The provided model identifier is invalid.")
		}
		if len(in.Converse.Messages) == 0 {
			return validationError("input.converse.messages: at least one message is required")
		}
		tokens = inputWords(in.Converse)
	}
	if _, err := e.admit(x, false); err != nil {
		return err
	}
	return x.answerJSON(map[string]int{"inputTokens": tokens})
}
