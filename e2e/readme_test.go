package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// readme is the repository's README.md.
func readme(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// A benchmark run README quotes is in the repository, where .gitignore
// lets it be (bench/results/cited/), so a reader can check the figures.
func TestREADMECitedBenchResultsAreKept(t *testing.T) {
	for _, path := range regexp.MustCompile(`bench/results/[A-Za-z0-9_./-]+\.json`).FindAllString(readme(t), -1) {
		if !strings.HasPrefix(path, "bench/results/cited/") {
			t.Errorf("README cites %s, which .gitignore keeps out of the repository: move it to bench/results/cited/ and commit it", path)
			continue
		}
		if _, err := os.Stat("../" + path); err != nil {
			t.Errorf("README cites %s, which is not in the repository: %v", path, err)
		}
	}
}

// readmeConfig is a ```yaml block of README.md that is a whole config.
type readmeConfig struct {
	line int // of the block's first line in README.md
	yaml string
}

// readmeSkip, alone on the line before a ```yaml fence, keeps that block
// out of TestREADMEConfigsStart; say why after it, e.g.
// "<!-- not a whole config: needs a PostgreSQL server -->". Use it only for
// a block that is deliberately partial or cannot start on a machine
// without its server.
const readmeSkip = "<!-- not a whole config"

// readmeConfigs returns every ```yaml block of README.md with a top-level
// model_list: the blocks a reader may save as config.yaml and start.
// Fragments (a few keys to add to an entry) have no model_list and are not
// taken.
func readmeConfigs(t *testing.T) []readmeConfig {
	t.Helper()
	var out []readmeConfig
	lines := strings.Split(readme(t), "\n")
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "```yaml" {
			continue
		}
		start := i + 1
		end := start
		for end < len(lines) && strings.TrimSpace(lines[end]) != "```" {
			end++
		}
		block := strings.Join(lines[start:end], "\n") + "\n"
		skipped := i > 0 && strings.HasPrefix(strings.TrimSpace(lines[i-1]), readmeSkip)
		if !skipped && regexp.MustCompile(`(?m)^model_list:`).MatchString(block) {
			out = append(out, readmeConfig{line: start + 1, yaml: block})
		}
		i = end
	}
	return out
}

// Every whole config README shows starts as written, without a warning:
// strata --config with the file, the environment variables it names set,
// and a profile for each aws_profile_name, as a reader's machine would
// have them. Each then serves the model names it lists. A README example that drifts from what Strata
// accepts fails here.
func TestREADMEConfigsStart(t *testing.T) {
	configs := readmeConfigs(t)
	if len(configs) < 10 {
		t.Fatalf("found %d whole configs in README.md; it had 10 when this test was written", len(configs))
	}
	envRef := regexp.MustCompile(`os\.environ/([A-Za-z_][A-Za-z0-9_]*)`)
	profileRef := regexp.MustCompile(`(?m)^\s*aws_profile_name:\s*([A-Za-z0-9_.-]+)`)
	modelName := regexp.MustCompile(`(?m)^\s*-\s*model_name:\s*([^\s#]+)`)
	for _, c := range configs {
		t.Run(fmt.Sprintf("README.md:%d", c.line), func(t *testing.T) {
			defer func() {
				if t.Failed() {
					t.Logf("README.md:%d must start as written; a block that is deliberately partial opts out with the line %s before its fence", c.line, readmeSkip+": <why> -->")
				}
			}()
			env := []string{"AWS_REGION=us-east-1"} // as for a reader whose shell sets one
			for _, m := range envRef.FindAllStringSubmatch(c.yaml, -1) {
				value := "readme-" + strings.ToLower(m[1])
				if strings.Contains(m[1], "REGION") {
					value = "us-east-1"
				}
				env = append(env, m[1]+"="+value)
			}
			var profiles strings.Builder
			for _, m := range profileRef.FindAllStringSubmatch(c.yaml, -1) {
				fmt.Fprintf(&profiles, "[profile %s]\nregion = us-east-1\naws_access_key_id = AKIAREADMEEXAMPLE\naws_secret_access_key = readme-secret\n\n", m[1])
			}
			if profiles.Len() > 0 {
				path := filepath.Join(t.TempDir(), "aws-config")
				if err := os.WriteFile(path, []byte(profiles.String()), 0o600); err != nil {
					t.Fatal(err)
				}
				env = append(env, "AWS_CONFIG_FILE="+path)
			}
			checkWeights(t, c.yaml)
			g := startGateway(t, c.yaml, env...)
			// A warning at startup is a key Strata ignores or a name that
			// leads nowhere: not an example that works as written.
			for _, rec := range logRecords(g) {
				if rec["level"] == "WARN" || rec["level"] == "ERROR" {
					t.Errorf("starting it logs %v: %v", rec["level"], rec["msg"])
				}
			}

			resp, err := http.Get(g.URL + "/v1/models")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var models struct {
				Data []struct {
					ID string `json:"id"`
				} `json:"data"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&models); err != nil {
				t.Fatal(err)
			}
			served := map[string]bool{}
			for _, m := range models.Data {
				served[m.ID] = true
			}
			for _, m := range modelName.FindAllStringSubmatch(c.yaml, -1) {
				if !served[m[1]] {
					t.Errorf("model %q of the example is not served; /v1/models lists %v", m[1], models.Data)
				}
			}
		})
	}
}

// checkWeights holds an example to README's routing rule: under
// simple-shuffle a deployment without the weight its siblings set gets no
// traffic, so an example that weights one deployment of a model weights
// them all.
func checkWeights(t *testing.T, text string) {
	t.Helper()
	var cfg struct {
		ModelList []struct {
			ModelName string         `yaml:"model_name"`
			Params    map[string]any `yaml:"litellm_params"`
		} `yaml:"model_list"`
	}
	if err := yaml.Unmarshal([]byte(text), &cfg); err != nil {
		t.Fatalf("not YAML: %v", err)
	}
	weighted, all := map[string]int{}, map[string]int{}
	for _, m := range cfg.ModelList {
		all[m.ModelName]++
		if _, ok := m.Params["weight"]; ok {
			weighted[m.ModelName]++
		}
	}
	for name, n := range weighted {
		if n != all[name] {
			t.Errorf("%d of the %d deployments of %s set weight: the others would get no traffic", n, all[name], name)
		}
	}
}
