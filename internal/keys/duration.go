package keys

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseDuration reads LiteLLM's durations: a whole number followed by s,
// m, h, d, w or mo (calendar months), e.g. "30s", "1h", "30d", "1mo".
// Months have no fixed length: use NextReset or BudgetReset to add one.
func ParseDuration(s string) (time.Duration, error) {
	n, unit, err := splitDuration(s)
	if err != nil {
		return 0, err
	}
	switch unit {
	case "s":
		return time.Duration(n) * time.Second, nil
	case "m":
		return time.Duration(n) * time.Minute, nil
	case "h":
		return time.Duration(n) * time.Hour, nil
	case "d":
		return time.Duration(n) * 24 * time.Hour, nil
	case "w":
		return time.Duration(n) * 7 * 24 * time.Hour, nil
	case "mo":
		return time.Duration(n) * 30 * 24 * time.Hour, nil
	}
	return 0, fmt.Errorf("%q: unknown unit", s)
}

func splitDuration(s string) (int64, string, error) {
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	unit := s[i:]
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil || n <= 0 || n > 100000 {
		return 0, "", fmt.Errorf("%q is not a duration: want a whole number > 0 and a unit, e.g. 30s, 15m, 1h, 30d, 1w, 1mo", s)
	}
	switch unit {
	case "s", "m", "h", "d", "w", "mo":
		return n, unit, nil
	}
	return 0, "", fmt.Errorf("%q is not a duration: the unit must be s, m, h, d, w or mo, e.g. 30d", s)
}

// Months is the number of calendar months d stands for ("3mo": 3), or 0
// when d is not in months.
func Months(d string) int {
	n, unit, err := splitDuration(d)
	if err != nil || unit != "mo" {
		return 0
	}
	return int(n)
}

// BudgetReset is when the budget period of duration d holding from ends.
// A budget in months resets on the 1st of a month at 00:00 UTC, as
// LiteLLM's does: "1mo" from March 14 ends on April 1 (the limiter's
// periods are the same calendar months). Other units end d after from.
// An invalid d gives from.
func BudgetReset(d string, from time.Time) time.Time {
	if n := Months(d); n > 0 {
		f := from.UTC()
		return time.Date(f.Year(), f.Month()+time.Month(n), 1, 0, 0, 0, 0, time.UTC)
	}
	return NextReset(d, from)
}

// NextReset is the time d after from, for a key's duration. Months are
// calendar months, to the same day; an invalid d gives from.
func NextReset(d string, from time.Time) time.Time {
	n, unit, err := splitDuration(d)
	if err != nil {
		return from
	}
	if unit == "mo" {
		// Jan 31 + 1mo is Feb 28 (or 29), not Mar 3 as AddDate would say.
		next := from.AddDate(0, int(n), 0)
		if next.Day() != from.Day() {
			next = next.AddDate(0, 0, -next.Day())
		}
		return next
	}
	dur, _ := ParseDuration(d)
	return from.Add(dur)
}
