// Package spend prices what a request used and writes spend rows off the
// request path: the price table of the Bedrock models Strata knows, the
// LiteLLM price keys that override it per deployment, and a batcher that
// never blocks a request. It decides nothing about budgets (see limits).
package spend
