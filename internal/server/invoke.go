package server

import (
	"context"
	"io"
	"log/slog"

	"github.com/strata-gateway/strata/internal/bedrock"
	"github.com/strata-gateway/strata/internal/openai"
	"github.com/strata-gateway/strata/internal/router"
	"github.com/strata-gateway/strata/internal/translate"
)

// openInvokeChat is openChat for a deployment whose chat goes through
// InvokeModel with the family's native body: a whole answer, a stream read
// from InvokeModelWithResponseStream, or, for a model that cannot stream,
// the whole answer replayed as a stream.
func (s *Server) openInvokeChat(ctx context.Context, log *slog.Logger, d *router.Deployment, req *openai.ChatRequest, meta translate.ResponseMeta) (chatAnswer, error) {
	call, err := translate.InvokeFromChat(req, d.Invoke)
	if err != nil {
		return chatAnswer{}, err
	}
	translate.LogDropped(log, call.Dropped)
	includeUsage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage
	if !call.Stream {
		resp, err := d.Client.InvokeWith(ctx, d.ModelID, call.Body, call.Options)
		if err != nil {
			return chatAnswer{}, err
		}
		answer, err := translate.ConverseFromInvoke(d.Invoke, resp)
		if err != nil {
			return chatAnswer{}, err
		}
		if req.Stream {
			log.Debug("model cannot stream; replaying the whole answer as a stream")
			return chatAnswer{stream: newReplayChunks(answer, translate.NewChatStream(meta, includeUsage))}, nil
		}
		return chatAnswer{completion: translate.ChatFromConverse(answer, meta)}, nil
	}
	upstream, err := d.Client.InvokeStreamWith(ctx, d.ModelID, call.Body, call.Options)
	if err != nil {
		return chatAnswer{}, err
	}
	native := d.Invoke.NewStream()
	native.Served(upstream.ServiceTier, upstream.Latency)
	return chatAnswer{stream: &invokeChunks{upstream: upstream, native: native, tr: translate.NewChatStream(meta, includeUsage)}}, nil
}

// invokeChunks translates an InvokeModelWithResponseStream answer as it is
// read: native chunks become Converse stream events, which become chunks.
type invokeChunks struct {
	upstream *bedrock.InvokeChunks
	native   *translate.InvokeChatStream
	tr       *translate.ChatStream
}

func (c *invokeChunks) Next(emit func(*openai.ChatChunk) error) error {
	yield := func(ev *bedrock.StreamEvent) error { return c.tr.Event(ev, emit) }
	payload, err := c.upstream.Next()
	if err == io.EOF {
		if err := c.native.End(yield); err != nil {
			return err
		}
		return io.EOF
	}
	if err != nil {
		return err
	}
	return c.native.Chunk(payload, yield)
}

func (c *invokeChunks) BeforeWait(f func()) { c.upstream.BeforeWait(f) }

func (c *invokeChunks) Close() error { return c.upstream.Close() }
