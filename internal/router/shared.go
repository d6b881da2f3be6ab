package router

import "time"

// Gateways sharing a Redis share what usage-based and latency-based
// routing compare: each sends what it observed of its deployments and
// gets back what all of them did (internal/cluster does the sending).
// Picking a deployment reads the last figures received, never Redis;
// when they are older than their freshness (Redis unreachable), this
// gateway's own figures are read instead.

// LatencyWeight is the weight of a new latency sample in the moving
// averages, this gateway's and the shared ones: about the last ten
// samples count.
const LatencyWeight = ewmaWeight

// Samples are latencies measured, as their count and sum in seconds.
type Samples struct {
	N   int64
	Sum float64
}

// Observed is what this gateway saw of a deployment since it last shared:
// tokens used, latencies of whole answers and times to first token.
type Observed struct {
	ID                        string
	Tokens                    int64
	Latency, TimeToFirstToken Samples
}

// Figures is what all the gateways saw of a deployment, as last read:
// tokens used in the fixed minute starting at Window (minutes aligned to
// the epoch, as every gateway counts them) and in the minute before, and
// the moving latencies in seconds (0: never measured).
type Figures struct {
	ID                        string
	Window                    time.Time
	Tokens, PrevTokens        int64
	Latency, TimeToFirstToken float64
}

// shared is a deployment's figures as the gateways share them, and what
// this gateway observed since it last sent its own.
type shared struct {
	figures Figures
	until   time.Time // fresh until then
	pending Observed
}

// tokens estimates the tokens used over the minute before now from the
// fixed minutes Redis counts: the current one, and the share of the one
// before that still falls in the last sixty seconds.
func (f *Figures) tokens(now time.Time) float64 {
	w := now.Truncate(time.Minute)
	left := 1 - float64(now.Sub(w))/float64(time.Minute)
	switch {
	case w.Equal(f.Window):
		return float64(f.Tokens) + float64(f.PrevTokens)*left
	case w.Equal(f.Window.Add(time.Minute)):
		return float64(f.Tokens) * left
	}
	return 0
}

// Observed hands over what this gateway saw of each deployment since the
// last call, for the other gateways.
func (r *Router) Observed() []Observed {
	var out []Observed
	for _, d := range r.live.Load().all() {
		s := d.state
		s.mu.Lock()
		o := s.shared.pending
		s.shared.pending = Observed{}
		s.mu.Unlock()
		o.ID = d.ID
		out = append(out, o)
	}
	return out
}

// ShareFigures makes figs what routing reads until the given time; after
// it, each deployment's own figures are read again.
func (r *Router) ShareFigures(figs []Figures, until time.Time) {
	byID := make(map[string]*Figures, len(figs))
	for i := range figs {
		byID[figs[i].ID] = &figs[i]
	}
	for _, d := range r.live.Load().all() {
		f := byID[d.ID]
		if f == nil {
			continue
		}
		s := d.state
		s.mu.Lock()
		s.shared.figures, s.shared.until = *f, until
		s.mu.Unlock()
	}
}

// all lists each working deployment once (aliases share their groups).
func (r *table) all() []*Deployment {
	var out []*Deployment
	for _, name := range r.names {
		for _, d := range r.groups[name].deployments {
			if d.Broken == nil {
				out = append(out, d)
			}
		}
	}
	return out
}
