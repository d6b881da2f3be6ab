package config

import (
	"regexp"
	"strconv"
	"strings"
)

var yamlErrorLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError reports a YAML syntax error, and with it the lines that look
// like the Python-isms of the LiteLLM docs' snippets, since the YAML parser
// often points elsewhere (at the start of the enclosing mapping).
func (d *decoder) syntaxError(err error, data []byte) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlErrorLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	d.errorf(line, "", "YAML syntax error: %s", msg)
	for i, text := range strings.Split(string(data), "\n") {
		if hint := pythonismHint(text); hint != "" {
			d.errorf(i+1, "", "%s", hint)
		}
	}
}

var (
	// aws_profile_name="dev-profile",
	keyEqualsValue = regexp.MustCompile(`^\s*(?:-\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=`)
	// aws_access_key_id:""
	noSpaceAfterColon = regexp.MustCompile(`^\s*(?:-\s+)?([A-Za-z_][A-Za-z0-9_]*):["']`)
	// aws_session_name: "my-test-session",
	quotedThenComma = regexp.MustCompile(`^\s*(?:-\s+)?([A-Za-z_][A-Za-z0-9_]*):\s+("[^"]*"|'[^']*')\s*,\s*(#.*)?$`)
	tabIndent       = regexp.MustCompile(`^ *\t`)
)

// pythonismHint says how to fix a line that is Python rather than YAML. It
// names the key only: the value may be a credential.
func pythonismHint(line string) string {
	if m := keyEqualsValue.FindStringSubmatch(line); m != nil {
		return "write " + m[1] + ": <value> (YAML is not Python: no \"=\", no trailing comma)"
	}
	if m := noSpaceAfterColon.FindStringSubmatch(line); m != nil {
		return "put a space after \"" + m[1] + ":\""
	}
	if m := quotedThenComma.FindStringSubmatch(line); m != nil {
		return "remove the comma after the quoted value of " + m[1] + " (YAML is not Python)"
	}
	if tabIndent.MatchString(line) {
		return "indent with spaces: YAML does not allow tabs"
	}
	return ""
}
