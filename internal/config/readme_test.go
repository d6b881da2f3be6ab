package config

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// readmeKeyTables reads README's "Keys: served, ignored, refused" tables:
// for each section heading, each key named in a row's first cell and the
// first word of its second cell ("served", "ignored" or "refused").
func readmeKeyTables(t *testing.T) map[string]map[string]string {
	t.Helper()
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	start := strings.Index(text, "### Keys: served, ignored, refused")
	if start < 0 {
		t.Fatal("README.md has no \"Keys: served, ignored, refused\" section")
	}
	text = text[start:]
	if end := strings.Index(text, "\n## "); end >= 0 {
		text = text[:end]
	}
	heading := regexp.MustCompile("^#### `?([a-z_ ]+?)`?( entries)?$")
	key := regexp.MustCompile("`([a-z_]+)`")
	tables := map[string]map[string]string{}
	section := ""
	for _, line := range strings.Split(text, "\n") {
		if m := heading.FindStringSubmatch(line); m != nil {
			section = strings.ToLower(m[1])
			tables[section] = map[string]string{}
			continue
		}
		cells := strings.Split(line, "|")
		if section == "" || len(cells) < 4 || strings.HasPrefix(strings.TrimSpace(cells[1]), "---") {
			continue
		}
		status := strings.Fields(strings.TrimSpace(cells[2]))
		if len(status) == 0 {
			continue
		}
		for _, k := range key.FindAllStringSubmatch(cells[1], -1) {
			tables[section][k[1]] = strings.TrimRight(status[0], ":;,")
		}
	}
	return tables
}

// README says, per key, what Strata does with it; this holds it to the
// tables the decoder works from, so that a key implemented or dropped
// shows in README too.
func TestREADMEKeyTablesMatchTheDecoder(t *testing.T) {
	tables := readmeKeyTables(t)
	check := func(section string, implemented map[string]bool, ignored map[string]bool) {
		t.Helper()
		table, ok := tables[section]
		if !ok {
			t.Errorf("README has no table for %s", section)
			return
		}
		for k := range implemented {
			if table[k] != "served" {
				t.Errorf("%s.%s is implemented; README says %q", section, k, table[k])
			}
		}
		for k := range ignored {
			if table[k] != "ignored" {
				t.Errorf("%s.%s is ignored; README says %q", section, k, table[k])
			}
		}
		for k, status := range table {
			if status == "served" && !implemented[k] {
				t.Errorf("README says %s.%s is served, which the decoder does not implement", section, k)
			}
			if status == "ignored" && implemented[k] {
				t.Errorf("README says %s.%s is ignored, which the decoder implements", section, k)
			}
		}
	}
	for section, keys := range settingsKeys {
		implemented := map[string]bool{}
		for k := range keys {
			implemented[k] = true
		}
		check(section, implemented, nil)
	}
	params := map[string]bool{"model": true, "custom_llm_provider": true}
	for k := range modelKeys {
		params[k] = true
	}
	for k := range paramKinds {
		params[k] = true
	}
	check("litellm_params", params, unimplementedModelKeys)
}
