package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"image"
	_ "image/png" // image.Decode must know PNG
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

func imagesGateway(t *testing.T) (*gateway, func() map[string]any) {
	t.Helper()
	em, endpoint := bedrockEmulator(t)
	g := startGateway(t, modelsConfig(endpoint, [][2]string{
		{"bedrock-stability", "bedrock/stability.stable-diffusion-xl-v0"},
		{"sdxl-v1", "bedrock/stability.stable-diffusion-xl-v1"},
		{"titan-image", "bedrock/amazon.titan-image-generator-v1"},
		{"nova-canvas", "bedrock/amazon.nova-canvas-v1:0"},
		{"sd3", "bedrock/stability.sd3-large-v1:0"},
	}, ""), seedEnv...)
	lastBody := func() map[string]any {
		var body map[string]any
		if err := json.Unmarshal(lastCall(t, em).Body, &body); err != nil {
			t.Fatal(err)
		}
		return body
	}
	return g, lastBody
}

// decodeImages decodes every b64_json image of an answer as a picture.
func decodeImages(t *testing.T, resp *openai.ImagesResponse) []image.Image {
	t.Helper()
	var out []image.Image
	for i, d := range resp.Data {
		raw, err := base64.StdEncoding.DecodeString(d.B64JSON)
		if err != nil {
			t.Fatalf("data[%d].b64_json: %v", i, err)
		}
		img, format, err := image.Decode(bytes.NewReader(raw))
		if err != nil || format != "png" {
			t.Fatalf("data[%d] is not a PNG (%s): %v", i, format, err)
		}
		out = append(out, img)
	}
	return out
}

// The seed's image example on SDXL 0.8 (the v0 model), as written: with no
// size (the model's own 512x512), then size="128x512" with a seed, which
// reach Bedrock and decide the pixels. SDXL 1.0's sizes are not SDXL 0.8's.
func TestImagesSeedExample(t *testing.T) {
	g, lastBody := imagesGateway(t)
	client := g.client()

	// client.images.generate(model="bedrock-stability", prompt="A cute baby sea otter")
	resp, err := client.Images.Generate(ctxTimeout(t), openai.ImageGenerateParams{Model: "bedrock-stability", Prompt: "A cute baby sea otter"})
	if err != nil {
		t.Fatal(err)
	}
	imgs := decodeImages(t, resp)
	if len(imgs) != 1 || imgs[0].Bounds().Dx() != 512 || imgs[0].Bounds().Dy() != 512 || resp.Created == 0 {
		t.Errorf("default image: %d images, %v", len(imgs), imgs[0].Bounds())
	}
	prompts, _ := lastBody()["text_prompts"].([]any)
	if len(prompts) != 1 || prompts[0].(map[string]any)["text"] != "A cute baby sea otter" {
		t.Errorf("text_prompts %v", prompts)
	}

	// size="128x512", extra_body={"seed": 30}
	gen := func(size openai.ImageGenerateParamsSize, seed int) image.Image {
		t.Helper()
		resp, err := client.Images.Generate(ctxTimeout(t), openai.ImageGenerateParams{Model: "bedrock-stability", Prompt: "A cute baby sea otter", Size: size},
			option.WithJSONSet("seed", seed))
		if err != nil {
			t.Fatal(err)
		}
		imgs := decodeImages(t, resp)
		if len(imgs) != 1 {
			t.Fatalf("%d images", len(imgs))
		}
		return imgs[0]
	}
	a := gen("128x512", 30)
	body := lastBody()
	if a.Bounds().Dx() != 128 || a.Bounds().Dy() != 512 || body["width"] != 128.0 || body["height"] != 512.0 || body["seed"] != 30.0 {
		t.Errorf("image %v; body width %v height %v seed %v", a.Bounds(), body["width"], body["height"], body["seed"])
	}
	b := gen("128x512", 30)
	c := gen("128x512", 31)
	if !samePixels(a, b) || samePixels(a, c) {
		t.Errorf("same seed same image: %v; other seed other image: %v", samePixels(a, b), !samePixels(a, c))
	}
	if d := gen("512x512", 1); d.Bounds().Dx() != 512 || d.Bounds().Dy() != 512 {
		t.Errorf("512x512 made %v", d.Bounds())
	}

	// 1024x1024 is SDXL 1.0's: too large for SDXL 0.8, a 400 with its rule.
	_, err = client.Images.Generate(ctxTimeout(t), openai.ImageGenerateParams{Model: "bedrock-stability", Prompt: "A cute baby sea otter", Size: "1024x1024"})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest || apiErr.Param != "size" ||
		!strings.Contains(apiErr.Message, "multiples of 64 from 128 to 896 pixels, at most one of them above 512") {
		t.Errorf("1024x1024 on SDXL 0.8: %v", err)
	}
	// And SDXL 1.0 keeps its nine sizes.
	_, err = client.Images.Generate(ctxTimeout(t), openai.ImageGenerateParams{Model: "sdxl-v1", Prompt: "A cute baby sea otter", Size: "128x512"})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest || !strings.Contains(apiErr.Message, "allowed sizes: 1024x1024, 1152x896") {
		t.Errorf("128x512 on SDXL 1.0: %v", err)
	}
}

func samePixels(a, b image.Image) bool {
	if a.Bounds() != b.Bounds() {
		return false
	}
	for y := a.Bounds().Min.Y; y < a.Bounds().Max.Y; y += 7 {
		for x := a.Bounds().Min.X; x < a.Bounds().Max.X; x += 7 {
			r1, g1, b1, _ := a.At(x, y).RGBA()
			r2, g2, b2, _ := b.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 {
				return false
			}
		}
	}
	return true
}

// n images: SDXL makes one per call, Titan several; sizes and ratios reach
// each model in its own terms.
func TestImagesFamilies(t *testing.T) {
	g, lastBody := imagesGateway(t)
	client := g.client()
	cases := []struct {
		model     string
		size      openai.ImageGenerateParamsSize
		n         int64
		w, h      int
		checkBody func(map[string]any) bool
	}{
		{"sdxl-v1", "896x1152", 2, 896, 1152, func(b map[string]any) bool { return b["samples"] == 1.0 }},
		{"titan-image", "512x512", 3, 512, 512, func(b map[string]any) bool {
			return b["imageGenerationConfig"].(map[string]any)["numberOfImages"] == 3.0
		}},
		{"nova-canvas", "1280x720", 1, 1280, 720, func(b map[string]any) bool { return b["taskType"] == "TEXT_IMAGE" }},
		{"sd3", "1344x768", 1, 1344, 768, func(b map[string]any) bool { return b["aspect_ratio"] == "16:9" }},
	}
	for _, c := range cases {
		t.Run(c.model, func(t *testing.T) {
			resp, err := client.Images.Generate(ctxTimeout(t), openai.ImageGenerateParams{
				Model: c.model, Prompt: "A cute baby sea otter", Size: c.size, N: openai.Int(c.n),
				ResponseFormat: openai.ImageGenerateParamsResponseFormatB64JSON,
			})
			if err != nil {
				t.Fatal(err)
			}
			imgs := decodeImages(t, resp)
			if len(imgs) != int(c.n) || imgs[0].Bounds().Dx() != c.w || imgs[0].Bounds().Dy() != c.h {
				t.Errorf("%d images of %v", len(imgs), imgs[0].Bounds())
			}
			if body := lastBody(); !c.checkBody(body) {
				t.Errorf("body %v", body)
			}
		})
	}
}

// Bedrock gives image bytes, not URLs: response_format url is a 400.
func TestImagesURLRefused(t *testing.T) {
	g, _ := imagesGateway(t)
	client := g.client()
	_, err := client.Images.Generate(ctxTimeout(t), openai.ImageGenerateParams{
		Model: "titan-image", Prompt: "otter", ResponseFormat: openai.ImageGenerateParamsResponseFormatURL,
	})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest || !strings.Contains(apiErr.Message, "use b64_json") {
		t.Errorf("url: %v", err)
	}
}
