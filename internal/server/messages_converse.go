package server

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"

	"github.com/strata-gateway/strata/internal/anthropic"
	"github.com/strata-gateway/strata/internal/bedrock"
	"github.com/strata-gateway/strata/internal/router"
	"github.com/strata-gateway/strata/internal/translate"
)

// openConverseMessages serves a Messages request from a deployment that is
// not Claude, through Converse.
func (s *Server) openConverseMessages(ctx context.Context, log *slog.Logger, d *router.Deployment, req *anthropic.MessagesRequest) (messagesAnswer, error) {
	call, err := translate.ConverseFromMessages(req, d.Chat)
	if err != nil {
		return messagesAnswer{}, err
	}
	translate.LogDropped(log, call.Dropped)
	id := "msg_" + rand.Text()
	if !req.Stream || call.StreamFallback {
		resp, err := d.Client.Converse(ctx, d.ModelID, call.Request)
		if err != nil {
			return messagesAnswer{}, err
		}
		if req.Stream {
			log.Debug("model cannot stream this request; replaying the whole answer as a stream")
			return messagesAnswer{stream: newReplayEvents(resp, translate.NewMessagesStream(id, d.BaseModel))}, nil
		}
		msg := translate.MessageFromConverse(resp, id, d.BaseModel)
		body, err := json.Marshal(msg)
		if err != nil {
			return messagesAnswer{}, fmt.Errorf("encode message: %w", err)
		}
		return messagesAnswer{whole: body, usage: msg.Usage}, nil
	}
	stream, err := d.Client.ConverseStream(ctx, d.ModelID, call.Request)
	if err != nil {
		return messagesAnswer{}, err
	}
	return messagesAnswer{stream: &converseEvents{upstream: stream, tr: translate.NewMessagesStream(id, d.BaseModel)}}, nil
}

// converseEvents translates a ConverseStream into Anthropic events as it is read.
type converseEvents struct {
	upstream *bedrock.Stream
	tr       *translate.MessagesStream
	ev       bedrock.StreamEvent
}

func (c *converseEvents) Next(emit func(anthropic.Event) error) error {
	err := c.upstream.Next(&c.ev)
	if err == io.EOF {
		if endErr := c.tr.End(emit); endErr != nil {
			return endErr
		}
		if !c.tr.Done() {
			return bedrock.ErrStreamTruncated
		}
		return io.EOF
	}
	if err != nil {
		return err
	}
	return c.tr.Event(&c.ev, emit)
}

func (c *converseEvents) BeforeWait(f func())    { c.upstream.BeforeWait(f) }
func (c *converseEvents) Usage() anthropic.Usage { return c.tr.Usage }
func (c *converseEvents) Close() error           { return c.upstream.Close() }

// replayEvents streams a whole Converse answer as Anthropic events.
type replayEvents struct {
	events []*bedrock.StreamEvent
	tr     *translate.MessagesStream
}

func newReplayEvents(resp *bedrock.ConverseResponse, tr *translate.MessagesStream) *replayEvents {
	r := &replayEvents{tr: tr}
	_ = translate.ReplayAsStream(resp, func(ev *bedrock.StreamEvent) error {
		r.events = append(r.events, ev)
		return nil
	})
	return r
}

func (r *replayEvents) Next(emit func(anthropic.Event) error) error {
	if len(r.events) == 0 {
		return io.EOF
	}
	ev := r.events[0]
	r.events = r.events[1:]
	return r.tr.Event(ev, emit)
}

func (r *replayEvents) BeforeWait(func())      {}
func (r *replayEvents) Usage() anthropic.Usage { return r.tr.Usage }
func (r *replayEvents) Close() error           { return nil }
