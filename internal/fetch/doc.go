// Package fetch owns downloading the images that chat requests name by http(s) URL, within size and time limits.
// It must not let a client reach loopback, private, link-local or metadata addresses (SSRF): every hop is
// resolved once, checked, and dialled at exactly the checked address; it knows nothing of OpenAI or Bedrock types.
package fetch
