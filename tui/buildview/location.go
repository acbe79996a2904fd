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

// editorArgv is the command that opens file at line (and col, when
// positive) in editor, the value of $EDITOR ("vi" when empty). The editor
// may carry arguments ("emacs -nw"); it is split on spaces, not by a
// shell. VS Code and its relatives take -g file:line:col; Sublime Text,
// Helix and Zed take file:line:col; everything else (vi, vim, nvim, nano,
// emacs, micro, kak, ...) takes +line file.
func editorArgv(editor, file string, line, col int) []string {
	argv := strings.Fields(editor)
	if len(argv) == 0 {
		argv = []string{"vi"}
	}
	pos := fmt.Sprintf("%s:%d", file, line)
	if col > 0 {
		pos += ":" + strconv.Itoa(col)
	}
	switch strings.TrimSuffix(filepath.Base(argv[0]), ".exe") {
	case "code", "code-insiders", "codium", "cursor":
		return append(argv, "-g", pos)
	case "subl", "sublime_text", "hx", "helix", "zed":
		return append(argv, pos)
	default:
		return append(argv, "+"+strconv.Itoa(line), file)
	}
}
