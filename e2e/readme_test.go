package e2e

import (
	"os"
	"regexp"
	"strings"
	"testing"
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
