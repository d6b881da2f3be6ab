// Package metrics defines Strata's Prometheus collectors: requests, latency,
// time to first token, tokens, retries, fallbacks, cooldowns, requests in
// flight and upstream errors. Collectors are registered on the registry the
// caller passes in; the package holds no global state.
package metrics
