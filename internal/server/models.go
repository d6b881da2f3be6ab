package server

import (
	"net/http"

	"github.com/strata-gateway/strata/internal/auth"
	"github.com/strata-gateway/strata/internal/openai"
)

const ownedBy = "strata"

func (s *Server) listModels(w http.ResponseWriter, r *http.Request) error {
	names := s.router.Names()
	list := openai.ModelList{Object: "list", Data: make([]openai.Model, 0, len(names))}
	for _, n := range names {
		if !auth.ModelVisible(r.Context(), n) {
			continue
		}
		list.Data = append(list.Data, openai.Model{ID: n, Object: "model", Created: s.created, OwnedBy: ownedBy})
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

func (s *Server) getModel(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("model")
	if len(s.router.Deployments(name)) == 0 || !auth.ModelVisible(r.Context(), name) {
		return &openai.Error{Status: http.StatusNotFound, Type: openai.TypeNotFound, Param: "model", Code: "model_not_found",
			Message: "model " + name + " is not served here"}
	}
	writeJSON(w, http.StatusOK, openai.Model{ID: name, Object: "model", Created: s.created, OwnedBy: ownedBy})
	return nil
}

func (s *Server) liveliness(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "healthy"})
	return nil
}

func (s *Server) readiness(w http.ResponseWriter, r *http.Request) error {
	if s.draining.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "shutting down"})
		return nil
	}
	if s.ready != nil {
		if err := s.ready(r.Context()); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unhealthy", "error": err.Error()})
			return nil
		}
	}
	answer := map[string]any{"status": "healthy", "models": len(s.router.Names())}
	if rs := s.redisState(); rs != nil {
		answer["redis"] = rs.Status
	}
	if ks := s.keyListenerState(); ks != nil {
		answer["key_changes_listener"] = ks.Status
	}
	writeJSON(w, http.StatusOK, answer)
	return nil
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) error {
	return &openai.Error{Status: http.StatusNotFound, Type: openai.TypeNotFound, Code: "not_found",
		Message: "no route for " + r.Method + " " + r.URL.Path + "; Strata serves /chat/completions, /embeddings, /images/generations and /models (also under /v1), /rerank (also under /v1 and /v2), /v1/messages, /health and /metrics"}
}

func methodNotAllowed(allow string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Allow", allow)
		return &openai.Error{Status: http.StatusMethodNotAllowed, Type: openai.TypeInvalidRequest, Code: "method_not_allowed",
			Message: r.Method + " is not allowed on " + r.URL.Path + "; use " + allow}
	}
}
