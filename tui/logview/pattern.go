package logview

import (
	"fmt"
	"regexp"
)

// pattern is a compiled search or filter: literal text or a regular
// expression, matching case or ignoring it. Both kinds compile to a
// regexp, so matching and highlighting work the same way.
type pattern struct {
	text       string
	regex      bool
	ignoreCase bool
	re         *regexp.Regexp
}

// compilePattern compiles text with the given flags. An empty text is
// no pattern (nil, nil).
func compilePattern(text string, regex, ignoreCase bool) (*pattern, error) {
	if text == "" {
		return nil, nil
	}
	expr := text
	if !regex {
		expr = regexp.QuoteMeta(text)
	}
	if ignoreCase {
		expr = "(?i)" + expr
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("logview: pattern %q: %w", text, err)
	}
	return &pattern{text: text, regex: regex, ignoreCase: ignoreCase, re: re}, nil
}

// with returns the pattern recompiled with other flags; an expression
// that does not compile as a regexp leaves p unchanged and returns the
// error.
func (p *pattern) with(regex, ignoreCase bool) (*pattern, error) {
	if p == nil {
		return nil, nil
	}
	return compilePattern(p.text, regex, ignoreCase)
}

// match reports whether plain contains a match.
func (p *pattern) match(plain string) bool { return p.re.MatchString(plain) }

// spans returns the byte ranges of the non-empty matches in plain.
func (p *pattern) spans(plain string) [][]int {
	all := p.re.FindAllStringIndex(plain, -1)
	out := all[:0]
	for _, s := range all {
		if s[1] > s[0] {
			out = append(out, s)
		}
	}
	return out
}

// String renders the pattern for the title: "err" for a literal, /err/
// for a regexp, followed by i when case is ignored.
func (p *pattern) String() string {
	s := fmt.Sprintf("%q", p.text)
	if p.regex {
		s = "/" + p.text + "/"
	}
	if p.ignoreCase {
		s += "i"
	}
	return s
}
