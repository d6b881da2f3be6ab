package server

import (
	"context"
	"time"

	"github.com/strata-gateway/strata/internal/fetch"
)

// Settings are the general_settings a request is served with that a
// config reload may change. A request reads them once, when it arrives,
// and keeps them to its end.
type Settings struct {
	MaxRequestBytes     int64 // body limit; 0 means DefaultMaxRequestBytes
	RequestBodyTimeout  time.Duration
	StreamWriteTimeout  time.Duration
	HealthCheckUpstream bool
	StorePrompts        bool
	MetricsNeedAuth     bool
	// Fetcher downloads images named by URL; nil means the defaults.
	Fetcher *fetch.Fetcher
}

// SetSettings serves the requests that arrive from now on with st;
// requests in flight keep theirs.
func (s *Server) SetSettings(st Settings) {
	if st.MaxRequestBytes <= 0 {
		st.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if st.Fetcher == nil {
		st.Fetcher = fetch.New(fetch.Options{})
	}
	s.settings.Store(&st)
}

// settingsOf are the settings of the request ctx belongs to; the current
// ones outside a request.
func (s *Server) settingsOf(ctx context.Context) *Settings {
	if rec, ok := ctx.Value(recordKey{}).(*requestRecord); ok && rec.settings != nil {
		return rec.settings
	}
	return s.settings.Load()
}
