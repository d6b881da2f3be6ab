package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// secretSettingWords are the words that make a setting's name look like a
// credential's (looksSecret), as the code lists them. Each is checked on its
// own below, so a word dropped from the code fails its own case.
var secretSettingWords = []string{"key", "apikey", "secret", "token", "password", "passwd", "pwd", "credential", "credentials"}

// The list above is the one looksSecret has: a word added there must be
// added here too, so that it is checked.
func TestSecretSettingWordsMatchTheCode(t *testing.T) {
	file, err := parser.ParseFile(token.NewFileSet(), "decode.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var inCode []string
	ast.Inspect(file, func(n ast.Node) bool {
		fn, ok := n.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "looksSecret" {
			return true
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			if clause, ok := n.(*ast.CaseClause); ok {
				for _, e := range clause.List {
					if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
						w, _ := strconv.Unquote(lit.Value)
						inCode = append(inCode, w)
					}
				}
			}
			return true
		})
		return false
	})
	want := slices.Sorted(slices.Values(secretSettingWords))
	if slices.Sort(inCode); !slices.Equal(inCode, want) {
		t.Errorf("looksSecret in decode.go lists %q; this test checks %q: keep them the same", inCode, want)
	}
}

// A value under any secret-looking setting name, wherever Strata keeps it
// without sending it to Bedrock (ignored general, router and litellm
// settings, maps nested in them, ignored litellm_params keys), is redacted
// in every way a Config can be printed, logged or encoded, and in the
// warnings and errors loading produces. A name without such a word is the
// control: its value shows, so the checks can see a leak.
func TestEverySecretLookingSettingIsRedacted(t *testing.T) {
	for _, word := range append(secretSettingWords, "colour") {
		secret := word != "colour"
		t.Run(word, func(t *testing.T) {
			values := map[string]string{
				"general":  "general-value-of-" + word,
				"router":   "router-value-of-" + word,
				"nested":   "nested-value-of-" + word,
				"cased":    "cased-value-of-" + word,
				"ignored":  "ignored-param-value-of-" + word,
				"env-name": "env-value-of-" + word,
			}
			yaml := fmt.Sprintf(`model_list:
  - model_name: m
    litellm_params:
      model: bedrock/amazon.nova-lite-v1:0
      aws_region_name: us-east-1
      tags:
        upstream_%[1]s: %[6]s
litellm_settings:
  cache_params:
    %[1]s: %[4]s
general_settings:
  my_%[1]s: %[2]s
  Service-%[7]s.Name: %[5]s
router_settings:
  redis_%[1]s: os.environ/SETTING_VALUE
`, word, values["general"], values["router"], values["nested"], values["cased"], values["ignored"], strings.ToUpper(word))
			cfg, err := Parse([]byte(yaml), "config.yaml", env{"SETTING_VALUE": values["router"]}.lookup)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			outputs := printed(t, cfg)
			outputs["warnings"] = strings.Join(cfg.Warnings, "\n")

			// The same settings beside a mistake: the error names places, not values.
			_, err = Parse([]byte(yaml+"  model_list_typo: [\n"), "config.yaml", env{"SETTING_VALUE": values["router"]}.lookup)
			if err == nil {
				t.Fatal("a broken config parsed")
			}
			outputs["syntax error"] = err.Error()
			_, err = Parse([]byte(strings.Replace(yaml, "bedrock/amazon.nova-lite-v1:0", "openai/gpt-4o", 1)), "config.yaml", env{"SETTING_VALUE": values["router"]}.lookup)
			if err == nil {
				t.Fatal("a config without a bedrock/ model parsed")
			}
			outputs["error"] = err.Error()

			for where, value := range values {
				if where == "env-name" {
					continue // only a control for the checks below
				}
				for name, out := range outputs {
					if secret && strings.Contains(out, value) {
						t.Errorf("%s: the value under a %q setting (%s) shows:\n%s", name, word, where, out)
					}
				}
				if !secret && !strings.Contains(outputs["%+v"], value) {
					t.Errorf("the control value %s (%s) does not show in %%+v, so the checks see nothing:\n%s", value, where, outputs["%+v"])
				}
			}
			if secret && !strings.Contains(outputs["%+v"], redacted) {
				t.Errorf("%%+v shows no %s:\n%s", redacted, outputs["%+v"])
			}
		})
	}
}

// printed is every way code may print or log a Config, by name.
func printed(t *testing.T, cfg *Config) map[string]string {
	t.Helper()
	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("config", "cfg", cfg, "settings", cfg.Settings, "models", cfg.Models)
	slog.New(slog.NewJSONHandler(&js, nil)).Info("config", "cfg", cfg, "settings", cfg.Settings, "models", cfg.Models)
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"%v":        fmt.Sprintf("%v", cfg),
		"%+v":       fmt.Sprintf("%+v", *cfg),
		"%#v":       fmt.Sprintf("%#v", *cfg),
		"json":      string(raw),
		"slog text": text.String(),
		"slog json": js.String(),
	}
}
