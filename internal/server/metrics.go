package server

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metricsHandler serves the gatherer in Prometheus' text format (or
// OpenMetrics, when the scraper asks for it).
func (s *Server) metricsHandler() http.Handler {
	return promhttp.HandlerFor(s.gatherer, promhttp.HandlerOpts{
		ErrorLog:          slogPrinter{s.log},
		EnableOpenMetrics: true,
	})
}

// slogPrinter lets promhttp report gathering errors to the gateway's log.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Println(v ...any) {
	p.log.Error("metrics: gather failed", "error", fmt.Sprint(v...))
}
