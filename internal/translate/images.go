package translate

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/strata-gateway/strata/internal/openai"
)

// imageSize is a requested image size in pixels.
type imageSize struct{ w, h int }

func (s imageSize) String() string { return strconv.Itoa(s.w) + "x" + strconv.Itoa(s.h) }

// imageCodec is one native image-generation format.
type imageCodec struct {
	// perCall is the most images one call returns.
	perCall int
	// seedMax is the largest seed the model takes.
	seedMax int64
	// sizes lists the sizes the model allows; when nil, sizeOK decides and
	// sizeRule says what it accepts.
	sizes    []string
	sizeOK   func(imageSize) bool
	sizeRule string
	// defaultSize is the size asked for when the request names none;
	// zero means OpenAI's 1024x1024.
	defaultSize imageSize
	// params are the provider-specific parameters the body has a place for,
	// by the names clients send; nil passes every parameter through as a
	// top-level key of the body.
	params map[string]string
	// body renders one call of n images.
	body func(c imageCall) map[string]any
	// answer reads the base64 images of one call's answer.
	answer func(body []byte) ([]string, error)
}

// imageCall is what one native call is built from.
type imageCall struct {
	prompt  string
	size    imageSize
	n       int
	seed    *int64
	quality string // standard | premium, for the models that have it
	params  map[string]json.RawMessage
}

// sdxlSizes are the sizes SDXL on Bedrock generates, from its parameter page.
var sdxlSizes = []string{"1024x1024", "1152x896", "1216x832", "1344x768", "1536x640", "640x1536", "768x1344", "832x1216", "896x1152"}

// titanImageSizes are the sizes Titan Image Generator v1 and v2 generate.
var titanImageSizes = []string{
	"1024x1024", "768x768", "512x512", "768x1152", "384x576", "1152x768", "576x384", "768x1280", "384x640",
	"1280x768", "640x384", "896x1152", "448x576", "1152x896", "576x448", "768x1408", "384x704", "1408x768",
	"704x384", "640x1408", "320x704", "1408x640", "704x320", "1152x640", "1173x640",
}

// stabilityRatios are the aspect ratios of Stability's newer models (SD3,
// Stable Image Core and Ultra), which take a ratio rather than a size.
var stabilityRatios = []string{"1:1", "16:9", "21:9", "2:3", "3:2", "4:5", "5:4", "9:16", "9:21"}

var imageCodecs = map[Native]*imageCodec{
	NativeStabilitySDXL: {perCall: 1, seedMax: 4294967295, sizes: sdxlSizes, body: sdxlBody, answer: sdxlAnswer},
	NativeStabilitySDXL08: {perCall: 1, seedMax: 4294967295, sizeOK: sdxl08Size, defaultSize: imageSize{512, 512},
		sizeRule: "width and height in multiples of 64 from 128 to 896 pixels, at most one of them above 512 (up to 512x896 or 896x512)",
		body:     sdxlBody, answer: sdxlAnswer},
	NativeTitanImage: {perCall: 5, seedMax: 2147483646, sizes: titanImageSizes, params: titanImageParams,
		body: titanImageBody, answer: titanImageAnswer},
	NativeNovaCanvas: {perCall: 5, seedMax: 858993459, sizeOK: novaCanvasSize, params: titanImageParams,
		sizeRule: "width and height from 320 to 4096 pixels in steps of 16, at most 4:1 either way, and at most 4,194,304 pixels",
		body:     titanImageBody, answer: titanImageAnswer},
	NativeStabilityImage: {perCall: 1, seedMax: 4294967294, sizeOK: stabilityRatioOK,
		sizeRule: "a size whose aspect ratio is one of " + strings.Join(stabilityRatios, ", ") + " (e.g. 1024x1024, 1344x768 for 16:9), or aspect_ratio directly",
		body:     stabilityImageBody, answer: stabilityImageAnswer},
}

// titanImageParams maps the provider-specific parameters Titan Image
// Generator and Nova Canvas take to where their body has them.
var titanImageParams = map[string]string{
	"seed": "imageGenerationConfig.seed", "cfg_scale": "imageGenerationConfig.cfgScale",
	"cfgScale": "imageGenerationConfig.cfgScale", "negative_prompt": "textToImageParams.negativeText",
	"negativeText": "textToImageParams.negativeText", "style": "textToImageParams.style",
}

// defaultImageSize is OpenAI's default, which every model here allows but
// SDXL 0.8, which has its own.
var defaultImageSize = imageSize{1024, 1024}

// maxImages is OpenAI's own limit on n.
const maxImages = 10

// ImageTarget is a deployment serving image generation. Build it once per deployment.
type ImageTarget struct {
	Model    string
	Native   Native
	codec    *imageCodec
	defaults map[string]json.RawMessage
}

// NewImageTarget checks a deployment's parameters for an image model of
// family f; they (seed, cfg_scale, steps, style_preset, ...) go with every
// call unless a request sets them.
func NewImageTarget(model string, f Family, params map[string]any) (*ImageTarget, error) {
	codec, ok := imageCodecs[f.Native]
	if !ok {
		return nil, fmt.Errorf("Strata has no image-generation body for %s (%s)", model, f.Name)
	}
	t := &ImageTarget{Model: model, Native: f.Native, codec: codec}
	for _, k := range slices.Sorted(maps.Keys(params)) {
		if inferenceParams[k] || gatewayParams[k] {
			continue
		}
		if codec.params != nil {
			if _, ok := codec.params[k]; !ok {
				return nil, fmt.Errorf("%s: %s takes %s", k, f.Name, strings.Join(slices.Sorted(maps.Keys(codec.params)), ", "))
			}
		}
		raw, err := json.Marshal(params[k])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		if t.defaults == nil {
			t.defaults = map[string]json.RawMessage{}
		}
		t.defaults[k] = raw
	}
	return t, nil
}

// ImagePlan is an image request translated into native calls.
type ImagePlan struct {
	Bodies  [][]byte
	Dropped []Dropped
}

// ImagesFromRequest validates an image request for target and renders its
// calls: n images take ceil(n / per-call) calls; with a seed, call k uses
// seed+k so the images differ. Problems the client must fix come back as
// *openai.Error.
func ImagesFromRequest(req *openai.ImageRequest, target *ImageTarget) (*ImagePlan, error) {
	codec := target.codec
	plan := &ImagePlan{}
	if strings.TrimSpace(req.Prompt) == "" {
		return nil, openai.InvalidRequest("prompt", "prompt is required")
	}
	switch req.ResponseFormat {
	case "", "b64_json":
	case "url":
		return nil, openai.InvalidRequest("response_format", "response_format url is not supported: Bedrock returns image bytes, not URLs; use b64_json (the default)")
	default:
		return nil, openai.InvalidRequest("response_format", "response_format must be b64_json, got %q", req.ResponseFormat)
	}
	n := 1
	if req.N != nil {
		n = *req.N
		if n < 1 || n > maxImages {
			return nil, openai.InvalidRequest("n", "n must be between 1 and %d, got %d", maxImages, n)
		}
	}
	params := maps.Clone(target.defaults)
	for k, v := range req.Extra {
		if gatewayParams[k] {
			continue
		}
		if codec.params != nil {
			if _, ok := codec.params[k]; !ok {
				return nil, openai.InvalidRequest(k, "%s is not a parameter of Bedrock model %s; it takes %s", k, target.Model,
					strings.Join(slices.Sorted(maps.Keys(codec.params)), ", "))
			}
		}
		if params == nil {
			params = map[string]json.RawMessage{}
		}
		params[k] = v
	}
	size, err := imageSizeFor(req.Size, codec, target.Model, params)
	if err != nil {
		return nil, err
	}
	var seed *int64
	if raw, ok := params["seed"]; ok {
		var s int64
		if json.Unmarshal(raw, &s) != nil || s < 0 || s > codec.seedMax {
			return nil, openai.InvalidRequest("seed", "seed must be a whole number from 0 to %d for Bedrock model %s", codec.seedMax, target.Model)
		}
		seed = &s
		delete(params, "seed")
	}
	quality := ""
	switch {
	case codec.params == nil && req.Quality != "":
		plan.Dropped = append(plan.Dropped, Dropped{"quality", "the model has no quality setting"})
	case req.Quality == "hd" || req.Quality == "high":
		quality = "premium"
	case req.Quality != "":
		quality = "standard"
	}
	switch _, native := codec.params["style"]; {
	case req.Style == "":
	case native && req.Style != "vivid" && req.Style != "natural":
		// Nova Canvas names its styles "style" too (PHOTOREALISM, ...).
		raw, _ := json.Marshal(req.Style)
		params = maps.Clone(params)
		if params == nil {
			params = map[string]json.RawMessage{}
		}
		params["style"] = raw
	default:
		plan.Dropped = append(plan.Dropped, Dropped{"style", "OpenAI's vivid/natural style has no Bedrock equivalent"})
	}
	for name := range req.Ignored {
		plan.Dropped = append(plan.Dropped, Dropped{name, "OpenAI parameter with no Bedrock equivalent"})
	}
	slices.SortFunc(plan.Dropped, func(a, b Dropped) int { return strings.Compare(a.Param, b.Param) })
	for k := 0; k*codec.perCall < n; k++ {
		c := imageCall{prompt: req.Prompt, size: size, n: min(codec.perCall, n-k*codec.perCall), quality: quality, params: params}
		if seed != nil {
			s := (*seed + int64(k)) % (codec.seedMax + 1)
			c.seed = &s
		}
		body, err := marshalBody(codec.body(c))
		if err != nil {
			return nil, openai.InvalidRequest("", "provider-specific parameters are not valid JSON: %v", err)
		}
		plan.Bodies = append(plan.Bodies, body)
	}
	return plan, nil
}

// imageSizeFor parses size and checks it against what the model allows.
func imageSizeFor(size string, codec *imageCodec, model string, params map[string]json.RawMessage) (imageSize, error) {
	if size == "" || size == "auto" {
		if codec.defaultSize != (imageSize{}) {
			return codec.defaultSize, nil
		}
		return defaultImageSize, nil
	}
	w, h, ok := strings.Cut(strings.ToLower(strings.TrimSpace(size)), "x")
	width, errW := strconv.Atoi(w)
	height, errH := strconv.Atoi(h)
	if !ok || errW != nil || errH != nil || width <= 0 || height <= 0 {
		return imageSize{}, openai.InvalidRequest("size", "size must be WIDTHxHEIGHT in pixels, e.g. 1024x1024; got %q", size)
	}
	s := imageSize{width, height}
	if _, ratioSet := params["aspect_ratio"]; ratioSet && codec.sizeOK != nil {
		return s, nil // the explicit ratio wins over size
	}
	if codec.sizes != nil {
		if slices.Contains(codec.sizes, s.String()) {
			return s, nil
		}
		e := openai.InvalidRequest("size", "size %s is not supported by Bedrock model %s; allowed sizes: %s", s, model, strings.Join(codec.sizes, ", "))
		e.Code = "unsupported_size"
		return imageSize{}, e
	}
	if codec.sizeOK(s) {
		return s, nil
	}
	e := openai.InvalidRequest("size", "size %s is not supported by Bedrock model %s; it takes %s", s, model, codec.sizeRule)
	e.Code = "unsupported_size"
	return imageSize{}, e
}

// sdxl08Size is the size rule of SDXL 0.8, Stability's SDXL beta in its v1
// generation API: sides in multiples of 64, each from 128 to 896 pixels,
// and only one of them larger than 512.
func sdxl08Size(s imageSize) bool {
	side := func(n int) bool { return n%64 == 0 && n >= 128 && n <= 896 }
	return side(s.w) && side(s.h) && (s.w <= 512 || s.h <= 512)
}

func novaCanvasSize(s imageSize) bool {
	return s.w >= 320 && s.h >= 320 && s.w <= 4096 && s.h <= 4096 && s.w%16 == 0 && s.h%16 == 0 &&
		s.w <= 4*s.h && s.h <= 4*s.w && s.w*s.h <= 4194304
}

// aspectRatio reduces a size to its ratio, "1344x768" -> "7:4".
func aspectRatio(s imageSize) string {
	a, b := s.w, s.h
	for b != 0 {
		a, b = b, a%b
	}
	return strconv.Itoa(s.w/a) + ":" + strconv.Itoa(s.h/a)
}

// stabilityRatio maps a size to the allowed ratio it has, allowing for the
// usual rounding to multiples of 64 (1344x768 is 16:9 to Stability).
func stabilityRatio(s imageSize) (string, bool) {
	if r := aspectRatio(s); slices.Contains(stabilityRatios, r) {
		return r, true
	}
	got := float64(s.w) / float64(s.h)
	for _, r := range stabilityRatios {
		a, b, _ := strings.Cut(r, ":")
		x, _ := strconv.Atoi(a)
		y, _ := strconv.Atoi(b)
		want := float64(x) / float64(y)
		if got/want > 0.97 && got/want < 1.03 {
			return r, true
		}
	}
	return "", false
}

func stabilityRatioOK(s imageSize) bool { _, ok := stabilityRatio(s); return ok }

func sdxlBody(c imageCall) map[string]any {
	prompts := []map[string]any{{"text": c.prompt, "weight": 1}}
	body := map[string]any{"width": c.size.w, "height": c.size.h, "samples": c.n}
	if c.seed != nil {
		body["seed"] = *c.seed
	}
	for k, v := range c.params {
		if k == "negative_prompt" {
			var neg string
			if json.Unmarshal(v, &neg) == nil && neg != "" {
				prompts = append(prompts, map[string]any{"text": neg, "weight": -1})
			}
			continue
		}
		body[k] = v
	}
	body["text_prompts"] = prompts
	return body
}

func sdxlAnswer(body []byte) ([]string, error) {
	var a struct {
		Artifacts []struct {
			Base64       string `json:"base64"`
			FinishReason string `json:"finishReason"`
		} `json:"artifacts"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, err
	}
	var images []string
	for _, art := range a.Artifacts {
		switch art.FinishReason {
		case "CONTENT_FILTERED":
			return nil, contentFiltered("Bedrock's content filter blocked the generated image")
		case "ERROR":
			return nil, &openai.Error{Status: 502, Type: openai.TypeAPI, Code: "model_error", Message: "Bedrock's model failed to generate the image"}
		}
		images = append(images, art.Base64)
	}
	return images, nil
}

func contentFiltered(msg string) *openai.Error {
	return &openai.Error{Status: 400, Type: openai.TypeInvalidRequest, Code: "content_policy_violation", Param: "prompt", Message: msg}
}

func titanImageBody(c imageCall) map[string]any {
	body := map[string]any{
		"taskType":          "TEXT_IMAGE",
		"textToImageParams": map[string]any{"text": c.prompt},
		"imageGenerationConfig": map[string]any{
			"numberOfImages": c.n, "width": c.size.w, "height": c.size.h,
		},
	}
	if c.seed != nil {
		setPath(body, "imageGenerationConfig.seed", *c.seed)
	}
	if c.quality != "" {
		setPath(body, "imageGenerationConfig.quality", c.quality)
	}
	for k, v := range c.params {
		setPath(body, titanImageParams[k], v)
	}
	return body
}

func titanImageAnswer(body []byte) ([]string, error) {
	var a struct {
		Images []string `json:"images"`
		Error  *string  `json:"error"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, err
	}
	if a.Error != nil && *a.Error != "" {
		return nil, contentFiltered("Bedrock did not generate the image: " + *a.Error)
	}
	return a.Images, nil
}

func stabilityImageBody(c imageCall) map[string]any {
	ratio, _ := stabilityRatio(c.size)
	body := map[string]any{"prompt": c.prompt, "mode": "text-to-image", "aspect_ratio": ratio, "output_format": "png"}
	if c.seed != nil {
		body["seed"] = *c.seed
	}
	for k, v := range c.params {
		body[k] = v
	}
	return body
}

func stabilityImageAnswer(body []byte) ([]string, error) {
	var a struct {
		Images        []string  `json:"images"`
		FinishReasons []*string `json:"finish_reasons"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, err
	}
	for _, r := range a.FinishReasons {
		if r != nil && *r != "" {
			return nil, contentFiltered("Bedrock did not generate the image: " + *r)
		}
	}
	return a.Images, nil
}

// ImagesFromInvoke reads one call's images; refusals by the model's content
// filter come back as *openai.Error.
func ImagesFromInvoke(target *ImageTarget, body []byte) ([]string, error) {
	images, err := target.codec.answer(body)
	if err != nil {
		var oe *openai.Error
		if errors.As(err, &oe) {
			return nil, err
		}
		return nil, fmt.Errorf("translate: read %s answer: %w", target.Native, err)
	}
	return images, nil
}

// ImagesResponse assembles the answer.
func ImagesResponse(images []string, created int64) *openai.ImagesResponse {
	out := &openai.ImagesResponse{Created: created, Data: make([]openai.ImageData, len(images))}
	for i, img := range images {
		out.Data[i] = openai.ImageData{B64JSON: img}
	}
	return out
}
