package server

import (
	"cmp"
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/strata-gateway/strata/internal/bedrock"
	"github.com/strata-gateway/strata/internal/openai"
	"github.com/strata-gateway/strata/internal/router"
	"github.com/strata-gateway/strata/internal/translate"
)

func (s *Server) chatCompletions(w http.ResponseWriter, r *http.Request) error {
	var req openai.ChatRequest
	if err := s.readModelRequest(w, r, &req, &req.Model); err != nil {
		return err
	}
	rec, log := s.beginModel(r, req.Model, "chat", req.Stream)
	rec.gen.maxTokens, rec.gen.temperature, rec.gen.topP = cmp.Or(req.MaxCompletionTokens, req.MaxTokens), req.Temperature, req.TopP
	route, err := s.routeFor(w, r, log, req.Model, req.Stream, req.User, req.Extra)
	if err != nil {
		return err
	}
	if err := s.fetchRemoteImages(r.Context(), &req); err != nil {
		return err
	}
	// Usage is always asked of a stream, for tpm and the metrics; the
	// client sees it only if it asked too.
	clientWantsUsage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage
	if req.Stream {
		req.StreamOptions = &openai.StreamOptions{IncludeUsage: true}
	}
	id, created := "chatcmpl-"+rand.Text(), s.now().Unix()
	rec.gen.responseID = id
	var answer chatAnswer
	var held *heldStream
	call, err := s.dispatch(w, r, &route, func(ctx context.Context, c *router.Call) error {
		d := c.Deployment
		meta := translate.ResponseMeta{ID: id, Created: created, Model: d.BaseModel}
		a, err := s.openChat(ctx, log.With("deployment", d.ID), d, &req, meta)
		if err != nil {
			return err
		}
		if a.stream != nil {
			if held, err = holdFirstToken(a.stream, clientWantsUsage, s.newStreamText()); err != nil {
				return err
			}
			c.FirstToken()
		}
		answer = a
		return nil
	})
	if err != nil {
		return err
	}
	log = log.With("deployment", call.Deployment.ID)
	if answer.completion != nil {
		s.finish(w, rec, call, usageOf(answer.completion.Usage), completionSpend(answer.completion), nil)
		s.noteCompletion(rec, answer.completion)
		writeJSON(w, http.StatusOK, answer.completion)
		return nil
	}
	defer answer.stream.Close()
	held.tally.promptChars = promptChars(&req)
	return s.relayChunks(w, r, log, held, call)
}

func usageOf(u *openai.Usage) router.Usage {
	if u == nil {
		return router.Usage{}
	}
	return router.Usage{InputTokens: u.PromptTokens, OutputTokens: u.CompletionTokens}
}

// chatAnswer is a deployment's answer, opened but not yet written: a whole
// completion, or a stream of chunks whose first event has not been read.
type chatAnswer struct {
	completion *openai.ChatCompletion
	stream     chunkStream
}

// chunkStream yields a streamed answer's chunks.
type chunkStream interface {
	// Next hands the next chunks to emit. It returns io.EOF once the answer
	// is complete, and an error if it broke off.
	Next(emit func(*openai.ChatChunk) error) error
	// BeforeWait sets f to run whenever Next is about to wait for Bedrock.
	BeforeWait(f func())
	Close() error
}

// openChat translates the request for deployment d and calls Bedrock. It
// writes nothing to the client, so a failure here can still be answered
// with a real status (or retried elsewhere).
func (s *Server) openChat(ctx context.Context, log *slog.Logger, d *router.Deployment, req *openai.ChatRequest, meta translate.ResponseMeta) (chatAnswer, error) {
	if err := d.Serves(translate.APIChat); err != nil {
		return chatAnswer{}, err
	}
	if len(d.DropParams) > 0 {
		var dropped []translate.Dropped
		req, dropped = translate.WithoutParams(req, d.DropParams)
		translate.LogDropped(log, dropped)
	}
	if d.Invoke != nil {
		return s.openInvokeChat(ctx, log, d, req, meta)
	}
	call, err := translate.ConverseFromChat(req, d.Chat)
	if err != nil {
		return chatAnswer{}, err
	}
	translate.LogDropped(log, call.Dropped)
	meta.Answer = call.Answer
	includeUsage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage
	if !req.Stream || call.StreamFallback {
		resp, err := d.Client.Converse(ctx, d.ModelID, call.Request)
		if err != nil {
			return chatAnswer{}, err
		}
		logWithheld(log, translate.WithheldCalls(resp, call.Answer))
		if req.Stream {
			log.Debug("model cannot stream this request; replaying the whole answer as a stream")
			return chatAnswer{stream: newReplayChunks(resp, translate.NewChatStream(meta, includeUsage))}, nil
		}
		return chatAnswer{completion: translate.ChatFromConverse(resp, meta)}, nil
	}
	stream, err := d.Client.ConverseStream(ctx, d.ModelID, call.Request)
	if err != nil {
		return chatAnswer{}, err
	}
	return chatAnswer{stream: &converseChunks{upstream: stream, tr: translate.NewChatStream(meta, includeUsage), log: log}}, nil
}

// logWithheld records the calls the model made to tools the client did not
// offer in this turn, which the answer leaves out.
func logWithheld(log *slog.Logger, names []string) {
	if len(names) > 0 {
		log.Warn("the model called tools the client did not offer in this turn; the calls were left out of the answer", "tools", names)
	}
}

// replayChunks streams a whole answer, one synthesized event at a time.
type replayChunks struct {
	events []*bedrock.StreamEvent
	tr     *translate.ChatStream
}

func newReplayChunks(resp *bedrock.ConverseResponse, tr *translate.ChatStream) *replayChunks {
	r := &replayChunks{tr: tr}
	_ = translate.ReplayAsStream(resp, func(ev *bedrock.StreamEvent) error {
		r.events = append(r.events, ev)
		return nil
	})
	return r
}

func (r *replayChunks) Next(emit func(*openai.ChatChunk) error) error {
	if len(r.events) == 0 {
		return io.EOF
	}
	ev := r.events[0]
	r.events = r.events[1:]
	return r.tr.Event(ev, emit)
}

// BeforeWait does nothing: a replayed answer is all at hand.
func (r *replayChunks) BeforeWait(func()) {}

func (r *replayChunks) Close() error { return nil }

// converseChunks translates a ConverseStream as it is read.
type converseChunks struct {
	upstream *bedrock.Stream
	tr       *translate.ChatStream
	ev       bedrock.StreamEvent
	log      *slog.Logger
}

func (c *converseChunks) Next(emit func(*openai.ChatChunk) error) error {
	err := c.upstream.Next(&c.ev)
	if err == io.EOF && !c.tr.Done() {
		return bedrock.ErrStreamTruncated
	}
	if err == io.EOF {
		logWithheld(c.log, c.tr.Withheld())
	}
	if err != nil {
		return err
	}
	return c.tr.Event(&c.ev, emit)
}

func (c *converseChunks) BeforeWait(f func()) { c.upstream.BeforeWait(f) }

func (c *converseChunks) Close() error { return c.upstream.Close() }

// heldStream is a stream read up to its first token, with what it produced
// so far encoded but not yet written: until the client sees a byte, a
// failure can still be retried elsewhere.
type heldStream struct {
	chunkStream
	held             [][]byte // SSE events to write first
	ended            bool     // the answer ended while it was held
	gotToken         bool
	clientWantsUsage bool
	usage            router.Usage
	tally            streamTally
}

// holdFirstToken reads stream until a chunk carries output (text, a tool
// call, reasoning, a finish reason), or until it ends. On failure the
// stream is closed. text, when not nil, collects the answer's text.
func holdFirstToken(stream chunkStream, clientWantsUsage bool, text *strings.Builder) (*heldStream, error) {
	h := &heldStream{chunkStream: stream, clientWantsUsage: clientWantsUsage}
	h.tally.text = text
	for !h.gotToken {
		err := stream.Next(h.hold)
		if err == io.EOF {
			h.ended = true
			break
		}
		if err != nil {
			stream.Close()
			return nil, err
		}
	}
	return h, nil
}

func (h *heldStream) hold(c *openai.ChatChunk) error {
	if !h.forClient(c) {
		return nil
	}
	// The same bytes the SSE writer writes for a chunk.
	b := c.AppendJSON([]byte("data: "))
	h.held = append(h.held, append(b, '\n', '\n'))
	h.gotToken = h.gotToken || carriesToken(c)
	return nil
}

// forClient notes the usage a chunk reports and says whether the client
// gets the chunk: the usage-only chunk only if it asked for usage.
func (h *heldStream) forClient(c *openai.ChatChunk) bool {
	h.tally.note(c)
	if c.Usage == nil {
		return true
	}
	h.usage = usageOf(c.Usage)
	return h.clientWantsUsage || len(c.Choices) > 0
}

func carriesToken(c *openai.ChatChunk) bool {
	if len(c.Choices) == 0 {
		return c.Usage != nil
	}
	ch := &c.Choices[0]
	d := &ch.Delta
	return ch.FinishReason != nil || d.Content != nil && *d.Content != "" || len(d.ToolCalls) > 0 ||
		d.ReasoningContent != nil && *d.ReasoningContent != "" || len(d.ThinkingBlocks) > 0
}

// relayChunks writes a streamed chat answer as data events, ending with
// [DONE]; a failure after the headers went out becomes an error event.
func (s *Server) relayChunks(w http.ResponseWriter, r *http.Request, log *slog.Logger, stream *heldStream, call *router.Call) error {
	relay := s.startRelay(w, r, log, call, stream.held, stream)
	emit := func(c *openai.ChatChunk) error {
		if !stream.forClient(c) {
			return nil
		}
		return relay.chunk(c)
	}
	err := relay.pump(stream.ended, func() error { return stream.Next(emit) })
	u, estimated := stream.tally.final()
	relay.rec.estimated = estimated
	s.noteStreamEnd(relay.rec, &stream.tally)
	failure, gone := relay.end(err, stream.usage, u)
	if failure == nil {
		return relay.done()
	}
	if !gone {
		ce := clientError(failure)
		logStreamFailed(log, ce.Status, failure)
		relay.error(ce)
	}
	return nil
}

func jsonTypeName(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	case "bool":
		return "a boolean"
	case "ptr":
		return "a value of another type"
	}
	return "a number"
}
