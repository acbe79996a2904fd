package buildview

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// location is a source position named in a line of build output.
type location struct {
	// start and end are the byte range of the location in the plain line.
	start, end int
	file       string
	line, col  int // col is 0 when the tool gave none
}

// String renders the location as file:line[:col].
func (l location) String() string {
	if l.col > 0 {
		return fmt.Sprintf("%s:%d:%d", l.file, l.line, l.col)
	}
	return fmt.Sprintf("%s:%d", l.file, l.line)
}

// locationRE matches path:line and path:line:col the way gcc, clang, go,
// rustc (after "-->"), ld and make print them. The path must start the
// line or follow a space, bracket or quote, so that URLs and times do not
// match; looksLikePath then rejects host:port and other lookalikes.
var locationRE = regexp.MustCompile(`(?:^|[\s(\['"` + "`" + `])([\w.~/+\-]*[\w~+\-]):(\d+)(?::(\d+))?`)

// pythonRE matches a Python traceback frame: File "x.py", line 3.
var pythonRE = regexp.MustCompile(`File "([^"]+)", line (\d+)`)

// parseLocations returns the locations in plain, in order.
func parseLocations(plain string) []location {
	var out []location
	for _, m := range locationRE.FindAllStringSubmatchIndex(plain, -1) {
		file := plain[m[2]:m[3]]
		if !looksLikePath(file) {
			continue
		}
		line, err := strconv.Atoi(plain[m[4]:m[5]])
		if err != nil || line <= 0 {
			continue
		}
		loc := location{start: m[2], end: m[5], file: file, line: line}
		if m[6] >= 0 {
			if col, err := strconv.Atoi(plain[m[6]:m[7]]); err == nil {
				loc.col, loc.end = col, m[7]
			}
		}
		out = append(out, loc)
	}
	for _, m := range pythonRE.FindAllStringSubmatchIndex(plain, -1) {
		line, err := strconv.Atoi(plain[m[4]:m[5]])
		if err != nil || line <= 0 {
			continue
		}
		out = append(out, location{start: m[0], end: m[1], file: plain[m[2]:m[3]], line: line})
	}
	slices.SortFunc(out, func(a, b location) int { return a.start - b.start })
	return out
}

// looksLikePath accepts names with a directory or an extension, and the
// make files, which have neither; it rejects hosts such as localhost and
// numbers such as 12 (of 12:03:11).
func looksLikePath(s string) bool {
	switch filepath.Base(s) {
	case "Makefile", "makefile", "GNUmakefile", "Dockerfile":
		return true
	}
	if !strings.ContainsAny(s, "./") || !strings.ContainsFunc(s, isLetter) {
		return false
	}
	ext := filepath.Ext(s)
	// example.com:443 and friends: a dot but a network-looking suffix.
	switch ext {
	case ".com", ".org", ".net", ".io", ".local":
		return strings.Contains(s, "/")
	}
	return true
}

func isLetter(r rune) bool { return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') }
