package app

import (
	"context"
	"net/http"

	"github.com/strata-gateway/strata/internal/bedrock"
)

type bedrockTransportKey struct{}

// WithBedrockTransport hands Run the transport for every call to Bedrock,
// in place of bedrock.NewTransport's. The load benchmark uses it to measure
// the gateway on another HTTP client stack.
func WithBedrockTransport(ctx context.Context, rt http.RoundTripper) context.Context {
	return context.WithValue(ctx, bedrockTransportKey{}, rt)
}

// bedrockTransport is the transport WithBedrockTransport put in ctx, or a
// new pool.
func bedrockTransport(ctx context.Context) http.RoundTripper {
	if rt, ok := ctx.Value(bedrockTransportKey{}).(http.RoundTripper); ok && rt != nil {
		return rt
	}
	return bedrock.NewTransport()
}
