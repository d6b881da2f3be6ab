package emulator

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"hash/fnv"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// Image models answer with real images of the size asked for: a pattern
// whose colours and stripes come from the prompt and the seed, so the same
// request gets the same picture and another seed another one.

// renderImage draws and encodes one image (png, or jpeg when format says so).
func renderImage(prompt string, seed uint64, w, h int, format string) (string, error) {
	hash := fnv.New64a()
	hash.Write([]byte(prompt))
	rng := rand.New(rand.NewPCG(hash.Sum64(), seed))
	palette := make(color.Palette, 8)
	for i := range palette {
		palette[i] = color.RGBA{uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256)), 255}
	}
	img := image.NewPaletted(image.Rect(0, 0, w, h), palette)
	stripe := 8 + rng.IntN(56)
	shift := rng.IntN(len(palette))
	for y := range h {
		row := img.Pix[y*img.Stride : y*img.Stride+w]
		for x := range row {
			row[x] = uint8(((x+y)/stripe + (x/(2*stripe))*(y/(2*stripe)) + shift) % len(palette))
		}
	}
	var buf bytes.Buffer
	var err error
	if format == "jpeg" {
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80})
	} else {
		err = (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, img)
	}
	if err != nil {
		return "", fmt.Errorf("emulator: encode image: %w", err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}

// seedOrDerived is the seed asked for, or (for 0 or none, which Bedrock
// takes as "pick one") one derived from the prompt, so answers stay
// deterministic.
func seedOrDerived(body map[string]any, key, prompt string, max int64) int64 {
	if s, ok := getInt(body, key); ok && s != 0 {
		return s
	}
	h := fnv.New64a()
	h.Write([]byte(prompt))
	return int64(h.Sum64() % uint64(max))
}

func sizeList(sizes []string) string { return strings.Join(sizes, ", ") }

// --- Stability SDXL ---

// sdxlSizes are the sizes SDXL generates on Bedrock.
var sdxlSizes = []string{"1024x1024", "1152x896", "1216x832", "1344x768", "1536x640", "640x1536", "768x1344", "832x1216", "896x1152"}

func sdxlSchema(modelID string) *field {
	maxSteps := 50.0
	if strings.HasSuffix(baseModelID(modelID), "-v0") {
		maxSteps = 150
	}
	return object(map[string]*field{
		"text_prompts":         array(object(map[string]*field{"text": str().req().length(0, 2000), "weight": number(-10, 10)})).req().length(1, 10),
		"height":               integer(128, 1536),
		"width":                integer(128, 1536),
		"cfg_scale":            number(0, 35),
		"clip_guidance_preset": oneOf("FAST_BLUE", "FAST_GREEN", "NONE", "SIMPLE", "SLOW", "SLOWER", "SLOWEST"),
		"sampler": oneOf("DDIM", "DDPM", "K_DPMPP_2M", "K_DPMPP_2S_ANCESTRAL", "K_DPM_2", "K_DPM_2_ANCESTRAL",
			"K_EULER", "K_EULER_ANCESTRAL", "K_HEUN", "K_LMS"),
		"samples": integer(1, 1),
		"seed":    integer(0, 4294967295),
		"steps":   integer(10, maxSteps),
		"style_preset": oneOf("3d-model", "analog-film", "anime", "cinematic", "comic-book", "digital-art", "enhance",
			"fantasy-art", "isometric", "line-art", "low-poly", "modeling-compound", "neon-punk", "origami", "photographic",
			"pixel-art", "tile-texture"),
		"extras": object(nil).openObject(),
	})
}

// sdxlBeta reports whether modelID is SDXL 0.8, Stability's SDXL beta, whose
// sizes follow the beta's rule rather than SDXL 1.0's list.
func sdxlBeta(modelID string) bool { return strings.HasSuffix(baseModelID(modelID), "-v0") }

// sdxlBetaSize is SDXL 0.8's rule: sides that are multiples of 64 from 128
// to 896, at most one of them above 512 (so 512x896 or 896x512 at most).
func sdxlBetaSize(w, h int) bool {
	side := func(n int) bool { return n%64 == 0 && n >= 128 && n <= 896 }
	return side(w) && side(h) && (w <= 512 || h <= 512)
}

func sdxlSize(modelID string, body map[string]any) (int, int) {
	w, okW := getInt(body, "width")
	h, okH := getInt(body, "height")
	switch {
	case okW && okH:
		return int(w), int(h)
	case okW:
		return int(w), int(w)
	case okH:
		return int(h), int(h)
	}
	if sdxlBeta(modelID) {
		return 512, 512
	}
	return 1024, 1024
}

func sdxlCheck(modelID string, body map[string]any) error {
	w, h := sdxlSize(modelID, body)
	if sdxlBeta(modelID) {
		if !sdxlBetaSize(w, h) {
			return validationError("The provided dimensions " + strconv.Itoa(w) + "x" + strconv.Itoa(h) + " are invalid for SDXL 0.8. " +
				"Width and height must be multiples of 64 from 128 to 896, and only one of them may be larger than 512.")
		}
		return nil
	}
	if size := strconv.Itoa(w) + "x" + strconv.Itoa(h); !slices.Contains(sdxlSizes, size) {
		return validationError("The provided dimensions " + size + " are invalid for SDXL. Valid dimensions are: " + sizeList(sdxlSizes) + ".")
	}
	return nil
}

func sdxlAnswer(_ *Emulator, x *exchange, body map[string]any, _ bool) (invokeAnswer, error) {
	var prompts []string
	list, _ := body["text_prompts"].([]any)
	for _, p := range list {
		prompts = append(prompts, getString(p.(map[string]any), "text"))
	}
	prompt := strings.Join(prompts, "|")
	w, h := sdxlSize(x.call.ModelID, body)
	seed := seedOrDerived(body, "seed", prompt, 4294967295)
	img, err := renderImage(prompt, uint64(seed), w, h, "png")
	if err != nil {
		return invokeAnswer{}, err
	}
	return invokeAnswer{body: map[string]any{"result": "success", "artifacts": []any{
		map[string]any{"seed": seed, "base64": img, "finishReason": "SUCCESS"},
	}}}, nil
}

// --- Stability SD3 and Stable Image ---

var stabilityRatios = map[string][2]int{
	"1:1": {1024, 1024}, "16:9": {1344, 768}, "21:9": {1536, 640}, "2:3": {832, 1216}, "3:2": {1216, 832},
	"4:5": {896, 1088}, "5:4": {1088, 896}, "9:16": {768, 1344}, "9:21": {640, 1536},
}

func stabilityImageSchema(string) *field {
	return object(map[string]*field{
		"prompt":          str().req().length(1, 10000),
		"negative_prompt": str().length(0, 10000),
		"aspect_ratio":    oneOf(sortedKeys(stabilityRatios)...),
		"mode":            oneOf("text-to-image", "image-to-image"),
		"output_format":   oneOf("jpeg", "png", "webp"),
		"seed":            integer(0, 4294967294),
		"style_preset":    str(),
		"image":           str(),
		"strength":        number(0, 1),
	})
}

func stabilityImageAnswer(_ *Emulator, _ *exchange, body map[string]any, _ bool) (invokeAnswer, error) {
	prompt := getString(body, "prompt")
	ratio := getString(body, "aspect_ratio")
	if ratio == "" {
		ratio = "1:1"
	}
	size := stabilityRatios[ratio]
	format := getString(body, "output_format")
	if format == "webp" {
		format = "png" // the emulator has no webp encoder; the client reads the bytes it gets
	}
	seed := seedOrDerived(body, "seed", prompt, 4294967294)
	img, err := renderImage(prompt, uint64(seed), size[0], size[1], format)
	if err != nil {
		return invokeAnswer{}, err
	}
	return invokeAnswer{body: map[string]any{"seeds": []int64{seed}, "finish_reasons": []any{nil}, "images": []string{img}}}, nil
}

// --- Amazon Titan Image Generator and Nova Canvas ---

// titanImageSizes are the sizes Titan Image Generator generates.
var titanImageSizes = []string{
	"1024x1024", "768x768", "512x512", "768x1152", "384x576", "1152x768", "576x384", "768x1280", "384x640",
	"1280x768", "640x384", "896x1152", "448x576", "1152x896", "576x448", "768x1408", "384x704", "1408x768",
	"704x384", "640x1408", "320x704", "1408x640", "704x320", "1152x640", "1173x640",
}

func isNovaCanvas(modelID string) bool {
	return strings.HasPrefix(baseModelID(modelID), "amazon.nova-canvas")
}

func titanImageSchema(modelID string) *field {
	textMax, seedMax := 512.0, 2147483646.0
	if isNovaCanvas(modelID) {
		textMax, seedMax = 1024, 858993459
	}
	return object(map[string]*field{
		"taskType": oneOf("TEXT_IMAGE", "INPAINTING", "OUTPAINTING", "IMAGE_VARIATION", "COLOR_GUIDED_GENERATION",
			"BACKGROUND_REMOVAL", "VIRTUAL_TRY_ON").req(),
		"textToImageParams": object(map[string]*field{
			"text":           str().req().length(1, textMax),
			"negativeText":   str().length(1, textMax),
			"style":          str(),
			"conditionImage": anyValue(), "controlMode": anyValue(), "controlStrength": anyValue(),
		}),
		"imageGenerationConfig": object(map[string]*field{
			"numberOfImages": integer(1, 5),
			"width":          integer(256, 4096),
			"height":         integer(256, 4096),
			"cfgScale":       number(1.1, 10),
			"seed":           integer(0, seedMax),
			"quality":        oneOf("standard", "premium"),
		}),
	})
}

func titanImageSize(body map[string]any) (int, int) {
	cfg := getObject(body, "imageGenerationConfig")
	w, okW := getInt(cfg, "width")
	h, okH := getInt(cfg, "height")
	if !okW || !okH {
		return 1024, 1024
	}
	return int(w), int(h)
}

func titanImageCheck(modelID string, body map[string]any) error {
	if getString(body, "taskType") != "TEXT_IMAGE" || getObject(body, "textToImageParams") == nil {
		return validationError("The emulator generates images with taskType TEXT_IMAGE and textToImageParams only.")
	}
	w, h := titanImageSize(body)
	size := strconv.Itoa(w) + "x" + strconv.Itoa(h)
	if isNovaCanvas(modelID) {
		ok := w >= 320 && h >= 320 && w%16 == 0 && h%16 == 0 && w <= 4*h && h <= 4*w && w*h <= 4194304
		if !ok {
			return validationError("The image size " + size + " is invalid: width and height must be between 320 and 4096 pixels, divisible by 16, " +
				"with an aspect ratio between 1:4 and 4:1 and at most 4194304 pixels.")
		}
		return nil
	}
	if !slices.Contains(titanImageSizes, size) {
		return validationError("The provided image size " + size + " is not supported. Supported sizes: " + sizeList(titanImageSizes) + ".")
	}
	return nil
}

func titanImageAnswer(_ *Emulator, x *exchange, body map[string]any, _ bool) (invokeAnswer, error) {
	prompt := getString(getObject(body, "textToImageParams"), "text")
	cfg := getObject(body, "imageGenerationConfig")
	n := 1
	if v, ok := getInt(cfg, "numberOfImages"); ok {
		n = int(v)
	}
	w, h := titanImageSize(body)
	seedMax := int64(2147483646)
	if isNovaCanvas(x.call.ModelID) {
		seedMax = 858993459
	}
	seed := seedOrDerived(cfg, "seed", prompt, seedMax)
	images := make([]string, n)
	for i := range images {
		img, err := renderImage(prompt, uint64(seed)+uint64(i)*uint64(math.MaxUint32), w, h, "png")
		if err != nil {
			return invokeAnswer{}, err
		}
		images[i] = img
	}
	return invokeAnswer{body: map[string]any{"images": images, "error": nil}}, nil
}
