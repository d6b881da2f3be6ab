package server

import (
	"context"
	"net/http"
	"strings"

	"github.com/strata-gateway/strata/internal/auth"
	"github.com/strata-gateway/strata/internal/openai"
)

// openPaths answer without a key: orchestrators probe them.
var openPaths = map[string]bool{
	"/health/liveliness": true,
	"/health/liveness":   true,
	"/health/readiness":  true,
	// Claude Code's HEAD / checks that its base URL answers; "/" serves
	// nothing else.
	"/": true,
}

// isAdminPage says a path is the admin page's: static files, open to
// all, that ask for the master key and send it to the admin routes.
func isAdminPage(path string) bool {
	return path == "/ui" || strings.HasPrefix(path, "/ui/")
}

// adminPrefixes are the management routes only the master key may call.
var adminPrefixes = []string{"/key/", "/team/", "/user/", "/spend/", "/global/", "/config/"}

func isAdminPath(path string) bool {
	for _, p := range adminPrefixes {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// authenticate checks the request's key when the gateway has a master key,
// and returns the context carrying its Principal. Every path is checked
// unless it is open, so a route added later is closed until said otherwise.
func (s *Server) authenticate(ctx context.Context, r *http.Request) (context.Context, *auth.Principal, error) {
	if s.auth == nil || openPaths[r.URL.Path] || isAdminPage(r.URL.Path) || r.URL.Path == "/metrics" && !s.settingsOf(ctx).MetricsNeedAuth {
		return ctx, nil, nil
	}
	p, err := s.auth.Authenticate(ctx, auth.KeyFromRequest(r))
	if err != nil {
		return ctx, nil, err
	}
	if !p.Master && isAdminPath(r.URL.Path) {
		return ctx, p, &auth.Error{Reason: auth.ReasonNotMaster,
			Message: r.URL.Path + " needs the master key; key '" + p.LogName() + "' is a virtual key"}
	}
	return auth.NewContext(ctx, p), p, nil
}

// admitModel is the check every model endpoint makes before anything is
// sent to Bedrock: the caller may use the model, and it is served here.
func (s *Server) admitModel(ctx context.Context, model string) error {
	if err := auth.CheckModel(ctx, model); err != nil {
		return err
	}
	return s.router.Has(model)
}

// authError is an auth refusal in OpenAI's error shape.
func authError(e *auth.Error) *openai.Error {
	oe := &openai.Error{Status: e.Status(), Code: e.Code(), Message: e.Message, Err: e}
	switch oe.Status {
	case http.StatusUnauthorized:
		oe.Type = openai.TypeAuthentication
	case http.StatusForbidden:
		oe.Type = openai.TypePermission
	default:
		oe.Type = openai.TypeUnavailable
	}
	if e.Model != "" {
		oe.Param = "model"
	}
	return oe
}
