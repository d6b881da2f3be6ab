// Package config owns Strata's LiteLLM-format config file: typed models and settings, os.environ/
// resolved, every problem reported at once with file, key path and line, unknown keys warned about.
// It must not set the process environment, call AWS, or let a secret's value reach any output.
package config
