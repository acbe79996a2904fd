package watcher

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
)

// gitignoreName is the file whose patterns apply to the directory holding it
// and everything below.
const gitignoreName = ".gitignore"

// rules decides which paths are ignored. Paths given to it are relative to
// the project root and slash-separated ("." is the root itself).
//
// gitignore patterns are matched against paths relative to base, the
// repository's top level (or the root when it is in no repository), so that
// .gitignore files above the root apply with git's semantics.
type rules struct {
	// rootParts are the root's components relative to base (empty when the
	// root is the top level).
	rootParts []string
	// outer holds .git/info/exclude and the .gitignore files between base
	// and the root, lowest priority first. They are read once, in New.
	outer []gitignore.Pattern
	// dirs maps a directory (relative to the root) to the patterns of its
	// .gitignore file.
	dirs map[string][]gitignore.Pattern
	// config holds the configured patterns; they win over every .gitignore.
	config []gitignore.Pattern
	// ignorePaths are build outputs relative to the root; each is ignored
	// with everything below it.
	ignorePaths []string
	// problems are the ignore files above the root that could not be read.
	problems []string
}

// newRules prepares the ignore rules for root: it finds the enclosing
// repository, reads the ignore files above the root and parses the
// configured patterns. The root's own .gitignore and those below it are
// loaded as the tree is walked (loadDir).
func newRules(root string, config []string, ignorePaths []string) (*rules, error) {
	r := &rules{dirs: make(map[string][]gitignore.Pattern)}
	base := findRepoTop(root)
	if base != root {
		rel, err := filepath.Rel(base, root)
		if err != nil {
			return nil, fmt.Errorf("watcher: locate root in repository %s: %w", base, err)
		}
		r.rootParts = strings.Split(filepath.ToSlash(rel), "/")
	}

	r.outer, r.problems = readOuterPatterns(base, r.rootParts)
	// A project inside a repository that ignores it (a home directory kept
	// in git with "*" in its .gitignore) would otherwise see nothing: the
	// root was chosen explicitly, so the patterns above it must not hide it.
	if len(r.rootParts) > 0 && matchList(r.outer, r.rootParts, true) == gitignore.Exclude {
		r.outer = nil
	}

	for _, p := range config {
		if line, ok := patternLine(p); ok {
			r.config = append(r.config, gitignore.ParsePattern(line, r.rootParts))
		}
	}

	for _, p := range ignorePaths {
		if p == "" {
			return nil, fmt.Errorf("watcher: ignore path: empty path")
		}
		rel, ok := resolve(root, p)
		if !ok {
			// Outside the root: nothing under the root can match it.
			continue
		}
		if rel == "." {
			return nil, fmt.Errorf("watcher: ignore path %q: is the project root, nothing would be watched", p)
		}
		r.ignorePaths = append(r.ignorePaths, rel)
	}
	return r, nil
}

// findRepoTop returns the nearest directory at or above dir holding a .git
// entry (a directory, or a file for worktrees and submodules), or dir when
// there is none.
func findRepoTop(dir string) string {
	for d := dir; ; {
		if _, err := os.Lstat(filepath.Join(d, ".git")); err == nil {
			return d
		}
		parent := filepath.Dir(d)
		if parent == d {
			return dir
		}
		d = parent
	}
}

// readOuterPatterns reads base/.git/info/exclude and the .gitignore files of
// base and of each directory between base and the root (exclusive), in
// increasing priority. A file that cannot be read is skipped and named in
// problems: it is outside the project and must not stop the watch.
func readOuterPatterns(base string, rootParts []string) (ps []gitignore.Pattern, problems []string) {
	files := []string{filepath.Join(base, ".git", "info", "exclude")}
	domains := [][]string{nil}
	dir := base
	for i := range rootParts {
		files = append(files, filepath.Join(dir, gitignoreName))
		domains = append(domains, rootParts[:i])
		dir = filepath.Join(dir, rootParts[i])
	}
	for i, f := range files {
		more, err := readPatternFile(f, domains[i])
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		ps = append(ps, more...)
	}
	return ps, problems
}

// readPatternFile parses a gitignore-style file whose patterns apply below
// domain. A missing file, or one that is not a regular file, has no
// patterns.
func readPatternFile(path string, domain []string) ([]gitignore.Pattern, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		// ENOTDIR: .git is a file in worktrees and submodules.
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil, nil
		}
		if fi, serr := os.Stat(path); serr == nil && !fi.Mode().IsRegular() {
			return nil, nil
		}
		return nil, fmt.Errorf("watcher: read ignore file: %w", err)
	}
	var ps []gitignore.Pattern
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		if line, ok := patternLine(sc.Text()); ok {
			ps = append(ps, gitignore.ParsePattern(line, domain))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("watcher: read ignore file %s: %w", path, err)
	}
	return ps, nil
}

// patternLine trims one line of an ignore file and reports whether it holds
// a pattern (not blank, not a comment).
func patternLine(s string) (string, bool) {
	s = strings.TrimSuffix(s, "\r")
	if strings.TrimSpace(s) == "" || strings.HasPrefix(s, "#") {
		return "", false
	}
	return s, true
}

// loadDir (re)reads the .gitignore of dir (relative to the root; abs is
// its absolute path). On error the directory keeps no patterns.
func (r *rules) loadDir(abs, dir string) error {
	domain := append([]string(nil), r.rootParts...)
	if dir != "." {
		domain = append(domain, strings.Split(dir, "/")...)
	}
	ps, err := readPatternFile(filepath.Join(abs, gitignoreName), domain)
	if len(ps) == 0 {
		delete(r.dirs, dir)
	} else {
		r.dirs[dir] = ps
	}
	return err
}

// forgetDir drops the .gitignore patterns of dir, when it is removed.
func (r *rules) forgetDir(dir string) { delete(r.dirs, dir) }

// ignored reports whether rel (relative to the root, slash-separated) is
// excluded: a .git directory or anything in one, an editor's temporary
// file, a build output, or a path matched by the configured patterns or the
// .gitignore files (deeper files win, later lines win, negations work).
func (r *rules) ignored(rel string, isDir bool) bool {
	if rel == "." {
		return false
	}
	parts := strings.Split(rel, "/")
	for _, p := range parts {
		if p == ".git" {
			return true
		}
	}
	if isEditorTemp(parts[len(parts)-1]) {
		return true
	}
	for _, ip := range r.ignorePaths {
		if rel == ip || strings.HasPrefix(rel, ip+"/") {
			return true
		}
	}

	full := make([]string, 0, len(r.rootParts)+len(parts))
	full = append(full, r.rootParts...)
	full = append(full, parts...)
	if m := matchList(r.config, full, isDir); m != gitignore.NoMatch {
		return m == gitignore.Exclude
	}
	// The .gitignore files that apply are those of the path's ancestors,
	// deepest first.
	for k := len(parts) - 1; k >= 0; k-- {
		dir := "."
		if k > 0 {
			dir = strings.Join(parts[:k], "/")
		}
		if m := matchList(r.dirs[dir], full, isDir); m != gitignore.NoMatch {
			return m == gitignore.Exclude
		}
	}
	return matchList(r.outer, full, isDir) == gitignore.Exclude
}

// matchList matches path against ps, the last matching pattern deciding.
func matchList(ps []gitignore.Pattern, path []string, isDir bool) gitignore.MatchResult {
	for i := len(ps) - 1; i >= 0; i-- {
		if m := ps[i].Match(path, isDir); m != gitignore.NoMatch {
			return m
		}
	}
	return gitignore.NoMatch
}

// isEditorTemp reports whether a base name is one of the temporary or
// backup files editors write while saving: vim's write test file 4913 and
// swap files, backups ending in ~, emacs lock (.#x) and auto-save (#x#)
// files, JetBrains' safe-write files, and the temporary file `sed -i`
// writes before renaming it over the original ("sed" and six letters or
// digits, from mkstemp's template sedXXXXXX).
func isEditorTemp(name string) bool {
	switch {
	case name == "4913":
		return true
	case strings.HasSuffix(name, ".swp"), strings.HasSuffix(name, ".swo"),
		strings.HasSuffix(name, ".swx"), strings.HasSuffix(name, ".swpx"):
		return true
	case strings.HasSuffix(name, "~"):
		return true
	case strings.HasPrefix(name, ".#"):
		return true
	case len(name) >= 2 && strings.HasPrefix(name, "#") && strings.HasSuffix(name, "#"):
		return true
	case strings.HasSuffix(name, "___jb_tmp___"), strings.HasSuffix(name, "___jb_old___"):
		return true
	case isSedTemp(name):
		return true
	}
	return false
}

// isSedTemp reports whether name is sed's temporary file: "sed" followed by
// the six letters or digits mkstemp puts in place of XXXXXX.
func isSedTemp(name string) bool {
	rest, ok := strings.CutPrefix(name, "sed")
	if !ok || len(rest) != 6 {
		return false
	}
	for _, c := range rest {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}
