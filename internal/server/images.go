package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/strata-gateway/strata/internal/fetch"
	"github.com/strata-gateway/strata/internal/openai"
)

// maxParallelFetches bounds the image downloads of one request.
const maxParallelFetches = 4

// fetchRemoteImages downloads every http(s) image_url of the request, in
// parallel, and attaches the bytes to the part for translation. Bedrock
// takes image bytes, not URLs.
func (s *Server) fetchRemoteImages(ctx context.Context, req *openai.ChatRequest) error {
	if !hasRemoteImage(req) {
		return nil // the usual case: nothing to set up on the request path
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(maxParallelFetches)
	for i := range req.Messages {
		parts := req.Messages[i].Content.Parts
		for j := range parts {
			img := parts[j].ImageURL
			if parts[j].Type != "image_url" || img == nil || !isRemoteURL(img.URL) {
				continue
			}
			field := fmt.Sprintf("messages[%d].content[%d].image_url", i, j)
			g.Go(func() error {
				mediaType, data, err := s.settingsOf(ctx).Fetcher.Fetch(ctx, img.URL)
				if err != nil {
					return imageFetchError(field, err)
				}
				img.Fetched = &openai.FetchedImage{MediaType: mediaType, Data: data}
				return nil
			})
		}
	}
	return g.Wait()
}

func hasRemoteImage(req *openai.ChatRequest) bool {
	for _, m := range req.Messages {
		for _, p := range m.Content.Parts {
			if p.Type == "image_url" && p.ImageURL != nil && isRemoteURL(p.ImageURL.URL) {
				return true
			}
		}
	}
	return false
}

func isRemoteURL(u string) bool {
	return strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://") ||
		strings.HasPrefix(u, "HTTP://") || strings.HasPrefix(u, "HTTPS://")
}

// imageFetchError says which part's URL failed and why, without the
// addresses the check saw (those go to the log through the wrapped error).
func imageFetchError(field string, err error) error {
	var fe *fetch.Error
	if !errors.As(err, &fe) {
		return err
	}
	typ := openai.TypeInvalidRequest
	if fe.Status == http.StatusGatewayTimeout {
		typ = openai.TypeTimeout
	}
	return &openai.Error{Status: fe.Status, Type: typ, Param: field, Code: "image_url_" + fe.Reason,
		Message: field + ": " + fe.Msg, Err: err}
}
