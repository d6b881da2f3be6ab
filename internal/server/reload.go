package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/strata-gateway/strata/internal/openai"
)

// ReloadFunc reads the config file again and serves it to new requests:
// what changed comes back, or a *ConfigRejected when the file has
// problems and the running config stays.
type ReloadFunc func(ctx context.Context) (*ReloadReport, error)

// ReloadReport is the answer of POST /config/reload: what the reload
// changed, by model name and by settings key ("router_settings.num_retries").
type ReloadReport struct {
	// Status is "reloaded", or "unchanged" when nothing the file says
	// differs from what is served (settings waiting for a restart aside).
	Status string `json:"status"`
	Config string `json:"config"` // the file read
	// Models served now, in file order.
	Models        []string `json:"models"`
	ModelsAdded   []string `json:"models_added"`
	ModelsRemoved []string `json:"models_removed"`
	// ModelsChanged are the names served before and now whose
	// model_list entries differ.
	ModelsChanged   []string `json:"models_changed"`
	SettingsChanged []string `json:"settings_changed"`
	// RestartRequired are settings changed in the file that only take
	// effect when the gateway starts again; the old values stay in use.
	RestartRequired []string `json:"restart_required"`
	Warnings        []string `json:"warnings"`
}

// ConfigRejected is a config file that was not loaded: every problem
// found in it, each on its own.
type ConfigRejected struct {
	Path     string
	Problems []string
}

func (e *ConfigRejected) Error() string {
	return fmt.Sprintf("%s: %d problems; still serving the config loaded before: %s", e.Path, len(e.Problems), strings.Join(e.Problems, "; "))
}

// reloadConfig is POST /config/reload.
func (s *Server) reloadConfig(w http.ResponseWriter, r *http.Request) error {
	report, err := s.reload(r.Context())
	var rejected *ConfigRejected
	if errors.As(err, &rejected) {
		return &openai.Error{Status: http.StatusBadRequest, Type: openai.TypeInvalidRequest, Code: "invalid_config",
			Message: rejected.Error(), Err: err}
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, report)
	return nil
}
