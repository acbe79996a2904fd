package project

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ParseSize parses a byte size: a whole number with an optional binary
// suffix K, M, G or T (case-insensitive, powers of 1024), optionally followed
// by "iB" or "B" ("256M", "1GiB", "64kb", "512B"). A plain number is a count
// of bytes. Negative, fractional and overflowing sizes are rejected with an
// error wrapping ErrBadSize.
func ParseSize(s string) (int64, error) {
	n, err := parseSize(s)
	if err != nil {
		return 0, fmt.Errorf("project: parse size %q: %w: %w", s, ErrBadSize, err)
	}
	return n, nil
}

// parseSize is ParseSize without the wrapping, so that config errors can
// phrase the reason their own way.
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	digits := 0
	for digits < len(t) && t[digits] >= '0' && t[digits] <= '9' {
		digits++
	}
	if digits == 0 {
		return 0, fmt.Errorf("want a whole number with an optional K, M, G or T suffix")
	}
	num, unit := t[:digits], strings.TrimSpace(t[digits:])
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s is too large", num)
	}
	shift, ok := sizeShift(unit)
	if !ok {
		return 0, fmt.Errorf("unknown unit %q: want K, M, G or T, optionally followed by iB", unit)
	}
	if n > math.MaxInt64>>shift {
		return 0, fmt.Errorf("too large")
	}
	return n << shift, nil
}

// sizeShift returns the power of two a size unit stands for.
func sizeShift(unit string) (uint, bool) {
	u := strings.ToUpper(unit)
	if u == "" || u == "B" {
		return 0, true
	}
	shifts := map[byte]uint{'K': 10, 'M': 20, 'G': 30, 'T': 40}
	shift, ok := shifts[u[0]]
	if !ok {
		return 0, false
	}
	switch u[1:] {
	case "", "B", "IB":
		return shift, true
	}
	return 0, false
}
