package config

import (
	"fmt"
	"strings"
)

// Error is one problem in a config file. Msg never contains a secret's value.
type Error struct {
	File string // the path given to Load or Parse; "" for the --model flag
	Line int    // 1-based; 0 when unknown
	Path string // key path, e.g. "model_list[0].litellm_params.aws_region_name"; "" for the whole file
	Msg  string
}

func (e *Error) Error() string {
	return position(e.File, e.Line) + joinNonEmpty(e.Path, e.Msg)
}

// Errors is every problem found in one config file, in line order. Load and
// Parse return it as *Errors.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As reach a single *Error.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// position is the "file:line: " prefix shared by errors and warnings.
func position(file string, line int) string {
	switch {
	case file != "" && line > 0:
		return fmt.Sprintf("%s:%d: ", file, line)
	case file != "":
		return file + ": "
	case line > 0:
		return fmt.Sprintf("line %d: ", line)
	}
	return ""
}

func joinNonEmpty(path, msg string) string {
	if path == "" {
		return msg
	}
	return path + ": " + msg
}
