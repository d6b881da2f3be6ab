package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// benchMasterKey turns authentication on in Strata under -auth.
const benchMasterKey = "sk-bench-master-key"

// apiKey is the virtual key every request carries under -auth; set once,
// before any load starts, and "" otherwise.
var apiKey string

// setRequestHeaders sets what every benchmark request sends.
func setRequestHeaders(h http.Header) {
	h.Set("Content-Type", "application/json")
	if apiKey != "" {
		h.Set("Authorization", "Bearer "+apiKey)
	}
}

// generateKey asks Strata for a virtual key with no limits of its own.
func generateKey(ctx context.Context, strataURL string) (string, error) {
	return generateKeyWith(ctx, strataURL, `{"key_alias":"bench"}`)
}

// generateKeyWith asks Strata for a virtual key with body's settings.
func generateKeyWith(ctx context.Context, strataURL, body string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strataURL+"/key/generate", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+benchMasterKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out struct {
		Key string `json:"key"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &out) != nil || out.Key == "" {
		return "", fmt.Errorf("generate a virtual key: %d %s", resp.StatusCode, raw)
	}
	return out.Key, nil
}
