// Package telemetry owns Strata's traces: the tracer provider, built from
// the config and the standard OTEL_* environment and passed to the server
// and the router, and the names of the spans' attributes. It never
// installs a global provider; tracing off is a nil Tracer, which costs the
// request path nothing.
package telemetry
