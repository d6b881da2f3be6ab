package server

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/strata-gateway/strata/internal/auth"
	"github.com/strata-gateway/strata/internal/openai"
	"github.com/strata-gateway/strata/internal/router"
	"github.com/strata-gateway/strata/internal/store"
	"github.com/strata-gateway/strata/internal/translate"
)

// maxResponseChain bounds how far previous_response_id is followed.
const maxResponseChain = 1000

// droppedToolsHeader names the tools a request offered that were not
// offered to the model (built-in OpenAI tools, unknown types).
const droppedToolsHeader = "X-Strata-Dropped-Tools"

func newItemID(prefix string) string { return prefix + "_" + rand.Text() }

func (s *Server) createResponse(w http.ResponseWriter, r *http.Request) error {
	var req openai.ResponsesRequest
	if err := s.readModelRequest(w, r, &req, &req.Model); err != nil {
		return err
	}
	rec, log := s.beginModel(r, req.Model, "responses", req.Stream)
	rec.gen.maxTokens, rec.gen.temperature, rec.gen.topP = req.MaxOutputTokens, req.Temperature, req.TopP
	owner := ownerOf(r.Context())
	history, err := s.responseHistory(r.Context(), owner, req.PreviousResponseID)
	if err != nil {
		return err
	}
	call, err := translate.ChatFromResponses(&req, history, newItemID)
	if err != nil {
		return err
	}
	translate.LogDropped(log, call.Dropped)
	if len(call.DroppedTools) > 0 {
		w.Header().Set(droppedToolsHeader, strings.Join(call.DroppedTools, ", "))
	}
	chat := call.Chat
	route, err := s.routeFor(w, r, log, req.Model, req.Stream, chat.User, req.Extra)
	if err != nil {
		return err
	}
	if err := s.fetchRemoteImages(r.Context(), chat); err != nil {
		return call.ClientError(err)
	}
	if req.Stream {
		chat.StreamOptions = &openai.StreamOptions{IncludeUsage: true}
	}
	keep := req.StoreOrDefault() && s.responses != nil
	if req.StoreOrDefault() && s.responses == nil {
		log.Info("store requested but no database is configured; the response is not kept")
	}
	id, created := "resp_"+rand.Text(), s.now().Unix()
	var answer chatAnswer
	var held *heldResponse
	var resp *openai.Response
	routed, err := s.dispatch(w, r, &route, func(ctx context.Context, c *router.Call) error {
		d := c.Deployment
		meta := translate.ResponseMeta{ID: id, Created: created, Model: d.BaseModel}
		a, err := s.openChat(ctx, log.With("deployment", d.ID), d, chat, meta)
		if err != nil {
			return call.ClientError(err)
		}
		resp = call.NewResponse(id, created, d.BaseModel)
		resp.Store = keep
		if a.stream != nil {
			if held, err = holdResponseStart(a.stream, translate.NewResponsesStream(resp, call.Answer), s.newStreamText()); err != nil {
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
	log = log.With("deployment", routed.Deployment.ID, "response_id", id)
	if answer.completion != nil {
		translate.ResponseFromChat(answer.completion, resp, call.Answer, s.now().Unix())
		s.finish(w, rec, routed, usageOf(answer.completion.Usage), completionSpend(answer.completion), nil)
		s.noteCompletion(rec, answer.completion)
		if keep {
			s.keepResponse(r.Context(), log, owner, &req, call, resp)
		}
		writeJSON(w, http.StatusOK, translate.ForClient(resp, call.Answer.ShowEncrypted))
		return nil
	}
	defer answer.stream.Close()
	held.tally.promptChars = promptChars(chat)
	rec.gen.responseID = id
	s.relayResponse(w, r, log, held, routed)
	if keep {
		s.keepResponse(r.Context(), log, owner, &req, call, held.tr.Response())
	}
	return nil
}

// ownerOf is the key a stored response belongs to: the caller's key
// token; "" for the master key or a gateway without keys.
func ownerOf(ctx context.Context) string {
	p, _ := auth.FromContext(ctx)
	return p.KeyHash()
}

// responseHistory is the conversation previous_response_id continues: the
// input and output items of every response in its chain, oldest first.
func (s *Server) responseHistory(ctx context.Context, owner, id string) ([]openai.Item, error) {
	if id == "" {
		return nil, nil
	}
	if s.responses == nil {
		return nil, openai.InvalidRequest("previous_response_id", "previous_response_id needs stored responses, and this gateway has no database configured")
	}
	var chain [][]openai.Item
	for next := id; next != ""; {
		if len(chain) == maxResponseChain {
			return nil, openai.InvalidRequest("previous_response_id", "the conversation is longer than %d responses", maxResponseChain)
		}
		stored, err := s.responses.GetResponse(ctx, owner, next)
		if errors.Is(err, store.ErrNotFound) {
			if next == id {
				return nil, &openai.Error{Status: http.StatusNotFound, Type: openai.TypeInvalidRequest, Param: "previous_response_id",
					Message: fmt.Sprintf("Previous response with id '%s' not found.", id)}
			}
			break // an earlier response was deleted: the conversation starts after it
		}
		if err != nil {
			return nil, fmt.Errorf("read stored response %s: %w", next, err)
		}
		var input []openai.Item
		var resp openai.Response
		if err := json.Unmarshal(stored.Input, &input); err != nil {
			return nil, fmt.Errorf("decode stored response %s input: %w", next, err)
		}
		if err := json.Unmarshal(stored.Body, &resp); err != nil {
			return nil, fmt.Errorf("decode stored response %s: %w", next, err)
		}
		chain = append(chain, append(input, resp.Output...))
		next = stored.PreviousResponseID
	}
	var items []openai.Item
	for i := len(chain) - 1; i >= 0; i-- {
		items = append(items, chain[i]...)
	}
	return items, nil
}

// keepResponse stores a finished response. A failure is logged, not
// returned: the answer was made (and paid for) and still reaches the
// client; only continuing from it will fail.
func (s *Server) keepResponse(ctx context.Context, log *slog.Logger, owner string, req *openai.ResponsesRequest, call *translate.ResponsesCall, resp *openai.Response) {
	body, err := json.Marshal(resp)
	if err == nil {
		var input []byte
		input, err = json.Marshal(call.Input)
		if err == nil {
			// The client may be gone; the answer it paid for is kept anyway.
			ctx = context.WithoutCancel(ctx)
			err = s.responses.PutResponse(ctx, &store.Response{
				ID: resp.ID, Owner: owner, PreviousResponseID: req.PreviousResponseID,
				CreatedAt: time.Unix(resp.CreatedAt, 0).UTC(), Body: body, Input: input,
			})
		}
	}
	if err != nil {
		log.Error("could not store the response; previous_response_id will not find it", "error", err.Error())
	}
}

// heldResponse is a streamed response read up to its first token, its
// events encoded but not yet written, so a failure before then can still
// be retried elsewhere.
type heldResponse struct {
	chunkStream
	tr       *translate.ResponsesStream
	held     [][]byte
	ended    bool
	gotToken bool
	usage    router.Usage
	tally    streamTally
}

func holdResponseStart(stream chunkStream, tr *translate.ResponsesStream, text *strings.Builder) (*heldResponse, error) {
	h := &heldResponse{chunkStream: stream, tr: tr}
	h.tally.text = text
	hold := func(ev *openai.ResponseEvent) error {
		b, err := appendEvent(nil, ev)
		h.held = append(h.held, b)
		return err
	}
	if err := tr.Start(hold); err != nil {
		stream.Close()
		return nil, err
	}
	for !h.gotToken {
		err := stream.Next(func(c *openai.ChatChunk) error {
			h.note(c)
			h.gotToken = h.gotToken || carriesToken(c)
			return tr.Chunk(c, hold)
		})
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

func (h *heldResponse) note(c *openai.ChatChunk) {
	h.tally.note(c)
	if c.Usage != nil {
		h.usage = usageOf(c.Usage)
	}
}

// appendEvent appends ev as a server-sent event, named as OpenAI names it.
func appendEvent(b []byte, ev *openai.ResponseEvent) ([]byte, error) {
	b = append(b, "event: "...)
	b = append(b, ev.Type...)
	b = append(b, "\ndata: "...)
	b, err := ev.AppendJSON(b)
	return append(b, '\n', '\n'), err
}

// relayResponse writes a streamed response as the Responses API's named
// events. A failure after the headers went out ends the stream with an
// error event and response.failed; the response is marked failed even
// when its client is gone.
func (s *Server) relayResponse(w http.ResponseWriter, r *http.Request, log *slog.Logger, stream *heldResponse, call *router.Call) {
	relay := s.startRelay(w, r, log, call, stream.held, stream)
	var line []byte
	emit := func(ev *openai.ResponseEvent) error {
		var err error
		if line, err = appendEvent(line[:0], ev); err != nil {
			return err
		}
		return relay.put(line)
	}
	chunk := func(c *openai.ChatChunk) error {
		stream.note(c)
		return stream.tr.Chunk(c, emit)
	}
	err := relay.pump(stream.ended, func() error { return stream.Next(chunk) })
	u, estimated := stream.tally.final()
	relay.rec.estimated = estimated
	s.noteStreamEnd(relay.rec, &stream.tally)
	failure, gone := relay.end(err, stream.usage, u)
	if failure == nil {
		_ = stream.tr.Finish(s.now().Unix(), emit)
		return
	}
	ce := clientError(failure)
	if gone {
		_ = stream.tr.Fail(ce, func(*openai.ResponseEvent) error { return nil })
		return
	}
	logStreamFailed(log, ce.Status, failure)
	_ = stream.tr.Fail(ce, emit)
	relay.flush()
}

func (s *Server) getResponse(w http.ResponseWriter, r *http.Request) error {
	_, resp, err := s.storedResponse(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	show := slices.Contains(q["include"], openai.IncludeReasoningEncrypted) || slices.Contains(q["include[]"], openai.IncludeReasoningEncrypted)
	writeJSON(w, http.StatusOK, translate.ForClient(resp, show))
	return nil
}

func (s *Server) deleteResponse(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if s.responses == nil {
		return responseNotFound(id)
	}
	err := s.responses.DeleteResponse(r.Context(), ownerOf(r.Context()), id)
	if errors.Is(err, store.ErrNotFound) {
		return responseNotFound(id)
	}
	if err != nil {
		return fmt.Errorf("delete stored response: %w", err)
	}
	writeJSON(w, http.StatusOK, openai.ResponseDeleted{ID: id, Object: "response", Deleted: true})
	return nil
}

func (s *Server) listInputItems(w http.ResponseWriter, r *http.Request) error {
	stored, _, err := s.storedResponse(r)
	if err != nil {
		return err
	}
	var items []openai.Item
	if err := json.Unmarshal(stored.Input, &items); err != nil {
		return fmt.Errorf("decode stored input of %s: %w", stored.ID, err)
	}
	q := r.URL.Query()
	limit := 20
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return openai.InvalidRequest("limit", "limit must be a whole number from 1 to 100")
		}
		limit = n
	}
	switch q.Get("order") {
	case "", "desc":
		slices.Reverse(items)
	case "asc":
	default:
		return openai.InvalidRequest("order", "order must be asc or desc")
	}
	if after := q.Get("after"); after != "" {
		i := slices.IndexFunc(items, func(it openai.Item) bool { return it.ID == after })
		if i < 0 {
			return openai.InvalidRequest("after", "item %q is not an input item of this response", after)
		}
		items = items[i+1:]
	}
	list := openai.ItemList{Object: "list", Data: items}
	if len(items) > limit {
		list.Data, list.HasMore = items[:limit], true
	}
	if len(list.Data) > 0 {
		first, last := list.Data[0].ID, list.Data[len(list.Data)-1].ID
		list.FirstID, list.LastID = &first, &last
	} else {
		list.Data = []openai.Item{}
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

// storedResponse reads the response the path names, for its owner.
func (s *Server) storedResponse(r *http.Request) (*store.Response, *openai.Response, error) {
	id := r.PathValue("id")
	if s.responses == nil {
		return nil, nil, responseNotFound(id)
	}
	stored, err := s.responses.GetResponse(r.Context(), ownerOf(r.Context()), id)
	if errors.Is(err, store.ErrNotFound) {
		return stored, nil, responseNotFound(id)
	}
	if err != nil {
		return stored, nil, fmt.Errorf("read stored response: %w", err)
	}
	var resp openai.Response
	if err := json.Unmarshal(stored.Body, &resp); err != nil {
		return stored, nil, fmt.Errorf("decode stored response %s: %w", id, err)
	}
	return stored, &resp, nil
}

func responseNotFound(id string) error {
	return &openai.Error{Status: http.StatusNotFound, Type: openai.TypeInvalidRequest,
		Message: fmt.Sprintf("Response with id '%s' not found.", id)}
}
