package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/strata-gateway/strata/internal/anthropic"
	"github.com/strata-gateway/strata/internal/bedrock"
	"github.com/strata-gateway/strata/internal/openai"
	"github.com/strata-gateway/strata/internal/router"
	"github.com/strata-gateway/strata/internal/spend"
	"github.com/strata-gateway/strata/internal/translate"
)

// messages serves Anthropic's POST /v1/messages. A Claude deployment gets
// the client's body on InvokeModel; any other chat deployment gets it
// translated to Converse and back. Routing, retries and fallbacks are the
// chat endpoint's.
func (s *Server) messages(w http.ResponseWriter, r *http.Request) error {
	var req anthropic.MessagesRequest
	if err := s.readModelRequest(w, r, &req, &req.Model); err != nil {
		return err
	}
	rec, log := s.beginModel(r, req.Model, "messages", req.Stream)
	rec.gen.maxTokens, rec.gen.temperature, rec.gen.topP = &req.MaxTokens, req.Temperature, req.TopP
	route, err := s.routeFor(w, r, log, req.Model, req.Stream, metadataUser(req.Metadata), req.Raw)
	if err != nil {
		return err
	}
	fetched, err := s.fetchMessageSources(r.Context(), &req)
	if err != nil {
		return err
	}
	betas := anthropicBetas(r.Header)
	var answer messagesAnswer
	var held *heldEvents
	call, err := s.dispatch(w, r, &route, func(ctx context.Context, c *router.Call) error {
		d := c.Deployment
		a, err := s.openMessages(ctx, log.With("deployment", d.ID), d, &req, betas, fetched)
		if err != nil {
			return err
		}
		if a.stream != nil {
			if held, err = holdFirstEvent(a.stream, s.newMessageTally()); err != nil {
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
	if answer.stream == nil {
		s.finish(w, rec, call, routerUsage(answer.usage), spendUsage(answer.usage), nil)
		s.noteMessage(rec, answer.whole)
		writeRawJSON(w, http.StatusOK, answer.whole)
		return nil
	}
	defer answer.stream.Close()
	return s.relayEvents(w, r, log, held, call)
}

// anthropicBetas reads the anthropic-beta header, which may come more than
// once and hold a comma-separated list.
func anthropicBetas(h http.Header) []string {
	var out []string
	for _, v := range h.Values("Anthropic-Beta") {
		for b := range strings.SplitSeq(v, ",") {
			if b = strings.TrimSpace(b); b != "" {
				out = append(out, b)
			}
		}
	}
	return out
}

// metadataUser is metadata.user_id, the end user Anthropic's API names.
func metadataUser(raw json.RawMessage) string {
	var m struct {
		UserID string `json:"user_id"`
	}
	_ = json.Unmarshal(raw, &m)
	return m.UserID
}

// spendUsage counts every input token, cache reads and writes included,
// which Anthropic's input_tokens leaves out.
func spendUsage(u anthropic.Usage) spend.Usage {
	return spend.Usage{InputTokens: u.InputTokens + u.CacheReadInputTokens + u.CacheCreationInputTokens, OutputTokens: u.OutputTokens,
		CacheReadTokens: u.CacheReadInputTokens, CacheWriteTokens: u.CacheCreationInputTokens}
}

func routerUsage(u anthropic.Usage) router.Usage {
	return router.Usage{InputTokens: u.InputTokens + u.CacheReadInputTokens + u.CacheCreationInputTokens, OutputTokens: u.OutputTokens}
}

// messagesAnswer is a deployment's answer, opened but not yet written: a
// whole message, or a stream of events whose first has not been read.
type messagesAnswer struct {
	whole  []byte
	usage  anthropic.Usage
	stream eventStream
}

// eventStream yields a streamed answer's Anthropic events.
type eventStream interface {
	// Next hands the next events to emit; io.EOF once the answer is complete.
	Next(emit func(anthropic.Event) error) error
	BeforeWait(f func())
	Usage() anthropic.Usage
	Close() error
}

// openMessages calls Bedrock for deployment d and writes nothing to the
// client, so a failure can still be retried elsewhere or answered with a
// real status.
func (s *Server) openMessages(ctx context.Context, log *slog.Logger, d *router.Deployment, req *anthropic.MessagesRequest, betas []string, fetched map[string]*anthropic.Source) (messagesAnswer, error) {
	if err := d.Serves(translate.APIChat); err != nil {
		return messagesAnswer{}, err
	}
	if !translate.IsClaude(d.BaseModel) {
		return s.openConverseMessages(ctx, log, d, req)
	}
	call, err := translate.InvokeFromMessages(req, betas, d.Chat, fetched)
	if err != nil {
		return messagesAnswer{}, err
	}
	translate.LogDropped(log, call.Dropped)
	if !req.Stream {
		resp, err := d.Client.Invoke(ctx, d.ModelID, call.Body)
		if err != nil {
			return messagesAnswer{}, err
		}
		usage, err := translate.ClaudeAnswer(resp.Body)
		if err != nil {
			return messagesAnswer{}, &bedrock.TransportError{Err: err}
		}
		return messagesAnswer{whole: resp.Body, usage: usage}, nil
	}
	chunks, err := d.Client.InvokeStream(ctx, d.ModelID, call.Body)
	if err != nil {
		return messagesAnswer{}, err
	}
	return messagesAnswer{stream: &claudeEvents{upstream: chunks}}, nil
}

// claudeEvents relays an InvokeModelWithResponseStream answer of a Claude
// model, whose chunks are Anthropic events already.
type claudeEvents struct {
	upstream *bedrock.InvokeChunks
	tr       translate.ClaudeStream
}

func (c *claudeEvents) Next(emit func(anthropic.Event) error) error {
	chunk, err := c.upstream.Next()
	if err == io.EOF && !c.tr.Done() {
		return bedrock.ErrStreamTruncated
	}
	if err != nil {
		return err
	}
	ev, err := c.tr.Event(chunk)
	if err != nil {
		return &bedrock.TransportError{Err: err}
	}
	return emit(ev)
}

func (c *claudeEvents) BeforeWait(f func())    { c.upstream.BeforeWait(f) }
func (c *claudeEvents) Usage() anthropic.Usage { return c.tr.Usage }
func (c *claudeEvents) Close() error           { return c.upstream.Close() }

// heldEvents is a stream read up to its first output, its events encoded
// but not yet written, so that a failure until then can be retried.
type heldEvents struct {
	eventStream
	held     [][]byte
	ended    bool
	gotToken bool
	tally    *messageTally // nil unless the request is traced
}

var pingEvent = []byte("event: ping\ndata: {\"type\": \"ping\"}\n\n")

// holdFirstEvent reads stream until an event carries output, or the end.
func holdFirstEvent(stream eventStream, tally *messageTally) (*heldEvents, error) {
	h := &heldEvents{eventStream: stream, tally: tally}
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

func (h *heldEvents) hold(ev anthropic.Event) error {
	h.tally.see(ev)
	h.held = append(h.held, appendAnthropicEvent(nil, ev))
	switch ev.Type {
	case anthropic.EventMessageStart:
		// As Anthropic's API does, a ping follows the start.
		h.held = append(h.held, pingEvent)
	case anthropic.EventContentBlockDelta, anthropic.EventMessageDelta, anthropic.EventMessageStop:
		h.gotToken = true
	}
	return nil
}

// appendAnthropicEvent encodes a named SSE event.
func appendAnthropicEvent(b []byte, ev anthropic.Event) []byte {
	b = append(b, "event: "...)
	b = append(b, ev.Type...)
	b = append(b, "\ndata: "...)
	b = append(b, ev.Data...)
	return append(b, '\n', '\n')
}

// relayEvents writes a streamed answer as Anthropic's named events; a
// failure after the headers went out becomes an error event.
func (s *Server) relayEvents(w http.ResponseWriter, r *http.Request, log *slog.Logger, stream *heldEvents, call *router.Call) error {
	relay := s.startRelay(w, r, log, call, stream.held, stream)
	var line []byte
	emit := func(ev anthropic.Event) error {
		stream.tally.see(ev)
		line = appendAnthropicEvent(line[:0], ev)
		return relay.put(line)
	}
	err := relay.pump(stream.ended, func() error { return stream.Next(emit) })
	noteMessageStream(relay.rec, stream.tally)
	usage := stream.Usage()
	failure, gone := relay.end(err, routerUsage(usage), spendUsage(usage))
	if failure == nil || gone {
		return nil
	}
	status, body := anthropicError(failure)
	logStreamFailed(log, status, failure)
	data, _ := json.Marshal(body)
	_ = relay.put(appendAnthropicEvent(nil, anthropic.Event{Type: anthropic.EventError, Data: data}))
	relay.flush()
	return nil
}

// fetchMessageSources downloads the images and documents a request names
// by URL, with the same SSRF-safe fetcher as chat: Bedrock takes no URLs.
func (s *Server) fetchMessageSources(ctx context.Context, req *anthropic.MessagesRequest) (map[string]*anthropic.Source, error) {
	type named struct {
		url, field string
	}
	var urls []named
	var walk func(c anthropic.Content, field string)
	walk = func(c anthropic.Content, field string) {
		for j, b := range c {
			f := fmt.Sprintf("%s.%d", field, j)
			if b.Source != nil && b.Source.Type == "url" {
				urls = append(urls, named{b.Source.URL, f})
			}
			walk(b.Content, f+".content")
		}
	}
	for i, m := range req.Messages {
		walk(m.Content, fmt.Sprintf("messages.%d.content", i))
	}
	if len(urls) == 0 {
		return nil, nil
	}
	out := make(map[string]*anthropic.Source, len(urls))
	for _, u := range urls {
		out[u.url] = nil
	}
	results := make([]*anthropic.Source, len(urls))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(maxParallelFetches)
	for i, u := range urls {
		g.Go(func() error {
			mediaType, data, err := s.settingsOf(ctx).Fetcher.Fetch(ctx, u.url)
			if err != nil {
				return imageFetchError(u.field, err)
			}
			results[i] = &anthropic.Source{Type: "base64", MediaType: mediaType, Data: base64.StdEncoding.EncodeToString(data)}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for i, u := range urls {
		out[u.url] = results[i]
		for j := range req.Messages {
			replaceSource(req.Messages[j].Content, u.url, results[i])
		}
	}
	return out, nil
}

// replaceSource sets the typed request's URL sources to the downloaded
// data too, for the Converse translation.
func replaceSource(c anthropic.Content, url string, src *anthropic.Source) {
	for i := range c {
		if c[i].Source != nil && c[i].Source.Type == "url" && c[i].Source.URL == url {
			c[i].Source = src
		}
		replaceSource(c[i].Content, url, src)
	}
}

// anthropicError shapes any error as Anthropic's API answers it.
func anthropicError(err error) (int, anthropic.ErrorBody) {
	ce := clientError(err)
	status := ce.Status
	if ce.Code == "model_not_found" {
		status = http.StatusNotFound
	}
	return anthropic.ErrorFor(status, ce.Message)
}

// writeAnthropicError writes an error on the Anthropic surface, in
// Anthropic's shape and statuses.
func writeAnthropicError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	writeShapedError(w, r, log, err, anthropicShape)
}

func anthropicShape(_ http.Header, err error) (int, any) {
	return anthropicError(err)
}

// anthropicNotFound answers unknown paths under the Anthropic surface.
func (s *Server) anthropicNotFound(w http.ResponseWriter, r *http.Request) error {
	return &openai.Error{Status: http.StatusNotFound, Type: openai.TypeNotFound, Code: "not_found",
		Message: "no route for " + r.Method + " " + r.URL.Path}
}
