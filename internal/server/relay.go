package server

import (
	"errors"
	"io"
	"log/slog"
	"net/http"

	"github.com/strata-gateway/strata/internal/router"
	"github.com/strata-gateway/strata/internal/spend"
)

// streamRelay writes a streamed answer as server-sent events, whichever
// surface's events they are (chat chunks, Anthropic's or the Responses
// API's named events). It owns what every stream does alike: the headers
// and the events held before the first token go out in the first write;
// what is written later is flushed whenever the stream is about to wait
// for Bedrock, so no event waits for a later one; when the stream ends,
// the call is finished and priced, and a failure is classified. How a
// surface encodes its events, ends its stream and words an error stays
// with the surface.
type streamRelay struct {
	sseWriter
	s    *Server
	r    *http.Request
	log  *slog.Logger
	call *router.Call
	rec  *requestRecord
}

// upstreamWaits is a stream that says when it is about to wait for Bedrock.
type upstreamWaits interface{ BeforeWait(f func()) }

// startRelay sends the stream's headers and the events held before its
// first token (they go out with the first flush), and has upstream flush
// what was written whenever it is about to wait.
func (s *Server) startRelay(w http.ResponseWriter, r *http.Request, log *slog.Logger, call *router.Call, held [][]byte, upstream upstreamWaits) *streamRelay {
	relay := &streamRelay{s: s, r: r, log: log, call: call, rec: recordFrom(r.Context())}
	relay.init(w)
	w.Header().Set("Trailer", costHeader)
	relay.start()
	for _, ev := range held {
		_ = relay.put(ev)
	}
	upstream.BeforeWait(relay.flush)
	return relay
}

// pump calls next, which reads and writes the stream's next events, until
// it fails or the answer is complete (io.EOF). ended says the answer was
// complete before its first token was let through.
func (relay *streamRelay) pump(ended bool, next func() error) error {
	if ended {
		return io.EOF
	}
	for {
		if err := next(); err != nil {
			return err
		}
		relay.call.Touch()
	}
}

// end finishes the call of a stream that ended with err (io.EOF: the
// answer is complete) and prices what it used: used as Bedrock reported
// it, u as it is priced. It returns nil for a complete answer, for the
// surface to end its stream. Otherwise it returns what broke the stream,
// and gone says whether the client is still there to be told (else the
// reason was logged, and closing the stream cancels Bedrock).
func (relay *streamRelay) end(err error, used router.Usage, u spend.Usage) (failure error, gone bool) {
	if err == io.EOF {
		relay.s.finish(relay.w, relay.rec, relay.call, used, u, nil)
		return nil, false
	}
	err = asShutdownCut(relay.r, relay.call.Err(err))
	relay.rec.err = err
	relay.s.finish(relay.w, relay.rec, relay.call, used, u, err)
	if relay.failed() || relay.r.Context().Err() != nil && !errors.Is(err, ErrShuttingDown) {
		logClientGone(relay.log, &relay.sseWriter, err)
		return err, true
	}
	return err, false
}
