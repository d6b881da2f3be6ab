package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseDuration reads a LiteLLM duration such as budget_duration or a key's
// duration: a whole number and a unit, "30s", "30m", "30h", "30d", "2w" or
// "1mo". A month is 30 days in the length returned; budgets in months are
// calendar months instead, which is why Settings.BudgetDuration keeps the
// string.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		unit   time.Duration
	}{{"mo", 30 * 24 * time.Hour}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}, {"d", 24 * time.Hour}, {"w", 7 * 24 * time.Hour}}
	for _, u := range units {
		digits, ok := strings.CutSuffix(s, u.suffix)
		if !ok {
			continue
		}
		n, err := strconv.Atoi(digits)
		if err != nil || n <= 0 || int64(n) > int64(1<<62)/int64(u.unit) {
			break
		}
		return time.Duration(n) * u.unit, nil
	}
	return 0, fmt.Errorf("%q is not a duration: write a whole number > 0 and a unit, e.g. 30s, 30m, 1h, 30d, 2w or 1mo", s)
}
