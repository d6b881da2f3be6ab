package openai

import "encoding/json"

// ImageRequest is the body of POST /images/generations. Every key OpenAI
// does not define lands in Extra: provider-specific parameters (seed,
// cfg_scale, steps, style_preset, negative_prompt, ...).
type ImageRequest struct {
	Model          string `json:"model"`
	Prompt         string `json:"prompt"`
	N              *int   `json:"n,omitempty"`
	Size           string `json:"size,omitempty"`            // "WIDTHxHEIGHT" or "auto"
	ResponseFormat string `json:"response_format,omitempty"` // b64_json (default) | url
	Quality        string `json:"quality,omitempty"`
	Style          string `json:"style,omitempty"`
	User           string `json:"user,omitempty"`

	// Ignored collects OpenAI parameters with no Bedrock equivalent
	// (background, moderation, output_compression, ...), for the log.
	Ignored map[string]json.RawMessage `json:"-"`
	Extra   map[string]json.RawMessage `json:"-"`
}

var imageRequestFields = map[string]bool{
	"model": true, "prompt": true, "n": true, "size": true, "response_format": true,
	"quality": true, "style": true, "user": true,
}

var imageIgnoredParams = map[string]bool{
	"background": true, "moderation": true, "output_compression": true, "output_format": true,
	"partial_images": true, "stream": true, "safety_identifier": true, "complexity": true,
	"frame_count": true, "frame_duration_ms": true,
}

// UnmarshalJSON decodes the typed fields and sorts the rest into Ignored and Extra.
func (r *ImageRequest) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	type plain ImageRequest
	if err := json.Unmarshal(b, (*plain)(r)); err != nil {
		return err
	}
	for k, v := range raw {
		switch {
		case imageRequestFields[k]:
		case imageIgnoredParams[k]:
			if r.Ignored == nil {
				r.Ignored = make(map[string]json.RawMessage)
			}
			r.Ignored[k] = v
		default:
			if r.Extra == nil {
				r.Extra = make(map[string]json.RawMessage)
			}
			r.Extra[k] = v
		}
	}
	return nil
}

// ImagesResponse is the answer to POST /images/generations.
type ImagesResponse struct {
	Created int64       `json:"created"`
	Data    []ImageData `json:"data"`
}

// ImageData is one generated image, base64-encoded.
type ImageData struct {
	B64JSON string `json:"b64_json"`
}
