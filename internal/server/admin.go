package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/strata-gateway/strata/internal/keys"
	"github.com/strata-gateway/strata/internal/openai"
)

// adminRoutes are LiteLLM's key, team and user management routes. Only the
// master key reaches them (see authenticate).
func (s *Server) adminRoutes(mux *http.ServeMux) {
	a := s.admin
	post := func(path string, fn func(ctx context.Context, body []byte) (any, error)) {
		mux.Handle("POST "+path, s.handle(func(w http.ResponseWriter, r *http.Request) error {
			body, err := s.readAdminBody(w, r)
			if err != nil {
				return err
			}
			v, err := fn(r.Context(), body)
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, v)
			return nil
		}))
		mux.Handle(path, s.handle(methodNotAllowed("POST")))
	}
	get := func(path string, fn func(r *http.Request) (any, error)) {
		mux.Handle("GET "+path, s.handle(func(w http.ResponseWriter, r *http.Request) error {
			v, err := fn(r)
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, v)
			return nil
		}))
		mux.Handle(path, s.handle(methodNotAllowed("GET")))
	}

	post("/key/generate", func(ctx context.Context, b []byte) (any, error) { return a.GenerateKey(ctx, b) })
	post("/key/update", func(ctx context.Context, b []byte) (any, error) { return a.UpdateKey(ctx, b) })
	post("/key/delete", func(ctx context.Context, b []byte) (any, error) { return a.DeleteKeys(ctx, b) })
	post("/key/regenerate", func(ctx context.Context, b []byte) (any, error) { return a.RegenerateKey(ctx, "", b) })
	post("/key/block", func(ctx context.Context, b []byte) (any, error) { return a.SetBlocked(ctx, b, true) })
	post("/key/unblock", func(ctx context.Context, b []byte) (any, error) { return a.SetBlocked(ctx, b, false) })
	mux.Handle("POST /key/{key}/regenerate", s.handle(func(w http.ResponseWriter, r *http.Request) error {
		body, err := s.readAdminBody(w, r)
		if err != nil {
			return err
		}
		v, err := a.RegenerateKey(r.Context(), r.PathValue("key"), body)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, v)
		return nil
	}))
	get("/key/info", func(r *http.Request) (any, error) { return a.KeyInfo(r.Context(), r.URL.Query().Get("key")) })
	get("/key/list", func(r *http.Request) (any, error) { return a.ListKeys(r.Context(), r.URL.Query()) })

	post("/team/new", func(ctx context.Context, b []byte) (any, error) { return a.NewTeam(ctx, b) })
	post("/team/update", func(ctx context.Context, b []byte) (any, error) { return a.UpdateTeam(ctx, b) })
	post("/team/delete", func(ctx context.Context, b []byte) (any, error) { return a.DeleteTeams(ctx, b) })
	get("/team/info", func(r *http.Request) (any, error) { return a.TeamInfo(r.Context(), r.URL.Query().Get("team_id")) })
	get("/team/list", func(r *http.Request) (any, error) { return a.ListTeams(r.Context()) })

	post("/user/new", func(ctx context.Context, b []byte) (any, error) { return a.NewUser(ctx, b) })
	post("/user/update", func(ctx context.Context, b []byte) (any, error) { return a.UpdateUser(ctx, b) })
	post("/user/delete", func(ctx context.Context, b []byte) (any, error) { return a.DeleteUsers(ctx, b) })
	get("/user/info", func(r *http.Request) (any, error) { return a.UserInfo(r.Context(), r.URL.Query().Get("user_id")) })
	get("/user/list", func(r *http.Request) (any, error) { return a.ListUsers(r.Context(), r.URL.Query()) })
}

func (s *Server) readAdminBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.settingsOf(r.Context()).MaxRequestBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, fmt.Errorf("read request body: %w", err)
	}
	return body, nil
}

// adminError is a management refusal in OpenAI's error shape.
func adminError(e *keys.Error) *openai.Error {
	oe := &openai.Error{Status: e.Status, Param: e.Field, Message: e.Message, Err: e}
	switch e.Status {
	case http.StatusNotFound:
		oe.Type, oe.Code = openai.TypeNotFound, "not_found"
	default:
		oe.Type, oe.Code = openai.TypeInvalidRequest, "invalid_request"
	}
	return oe
}
