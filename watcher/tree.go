package watcher

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
)

// scope is one entry of Options.Paths, relative to the root.
type scope struct {
	// rel is slash-separated; "." is the root.
	rel string
	// dir says the scope is a directory, watched recursively; otherwise it
	// is a single file, seen through a watch on its parent directory.
	dir bool
}

// contains reports whether rel lies inside the scope.
func (s scope) contains(rel string) bool {
	switch {
	case s.rel == ".":
		return true
	case rel == s.rel:
		return true
	default:
		return s.dir && strings.HasPrefix(rel, s.rel+"/")
	}
}

// resolveScopes turns Options.Paths into scopes, checking that each exists
// and lies inside root.
func resolveScopes(root string, paths []string) ([]scope, error) {
	if len(paths) == 0 {
		paths = []string{"."}
	}
	var out []scope
	seen := make(map[string]bool)
	for _, p := range paths {
		if p == "" {
			return nil, fmt.Errorf("watcher: watch path: empty path")
		}
		rel, ok := resolve(root, p)
		if !ok {
			return nil, fmt.Errorf("watcher: watch path %q: outside the project root %s", p, root)
		}
		fi, err := os.Stat(filepath.Join(root, filepath.FromSlash(rel)))
		if err != nil {
			return nil, fmt.Errorf("watcher: watch path %q: %w", p, err)
		}
		if seen[rel] {
			continue
		}
		seen[rel] = true
		out = append(out, scope{rel: rel, dir: fi.IsDir()})
	}
	return out, nil
}

// resolve returns the path p, absolute or relative to root, relative to
// root and slash-separated ("." for root itself), and false when it is
// outside root.
func resolve(root, p string) (string, bool) {
	abs := p
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(root, p)
	}
	return relTo(root, filepath.Clean(abs))
}

// relTo returns abs relative to root, slash-separated ("." for root
// itself), and false when abs is not inside root.
func relTo(root, abs string) (string, bool) {
	if abs == root {
		return ".", true
	}
	prefix := root
	if !strings.HasSuffix(prefix, string(filepath.Separator)) {
		prefix += string(filepath.Separator)
	}
	if !strings.HasPrefix(abs, prefix) {
		return "", false
	}
	return filepath.ToSlash(abs[len(prefix):]), true
}

// joinRel appends name to the relative directory dir.
func joinRel(dir, name string) string {
	if dir == "." {
		return name
	}
	return dir + "/" + name
}

// parentRel returns the relative parent directory of rel ("." at the top).
func parentRel(rel string) string { return path.Dir(rel) }

// ancestors returns the directories above rel, from the root down,
// excluding rel itself: "a/b/c" gives ".", "a", "a/b".
func ancestors(rel string) []string {
	if rel == "." {
		return nil
	}
	out := []string{"."}
	parts := strings.Split(rel, "/")
	for i := 1; i < len(parts); i++ {
		out = append(out, strings.Join(parts[:i], "/"))
	}
	return out
}

// walker visits the part of a tree the rules do not ignore. Each
// directory's .gitignore is loaded after enter and before its entries are
// judged, so nested ignore files apply to the walk itself.
type walker struct {
	root  string
	rules *rules
	// enter is called for each directory before it is read (so that a
	// watch added there misses nothing created during the read); false
	// skips the directory.
	enter func(rel string) bool
	// file is called for each entry that is not a directory.
	file func(rel string, d fs.DirEntry)
	// warn receives problems that do not stop the walk.
	warn func(string)
}

// walk visits dir (relative to the root) and everything below it.
func (wk *walker) walk(dir string) {
	abs := filepath.Join(wk.root, filepath.FromSlash(dir))
	if wk.enter != nil && !wk.enter(dir) {
		return
	}
	if err := wk.rules.loadDir(abs, dir); err != nil {
		wk.warn(err.Error())
	}
	entries, err := os.ReadDir(abs)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			wk.warn(fmt.Sprintf("watcher: read directory %s: %v", abs, err))
		}
		return
	}
	for _, e := range entries {
		child := joinRel(dir, e.Name())
		if e.IsDir() {
			if !wk.rules.ignored(child, true) {
				wk.walk(child)
			}
			continue
		}
		if wk.file != nil && !wk.rules.ignored(child, false) {
			wk.file(child, e)
		}
	}
}

// scope walks one scope: a directory scope recursively; a file scope by
// entering its parent directory without reading it, then visiting the file.
// .gitignore files of the scope's ancestors are loaded first, since they
// apply inside it.
func (wk *walker) scope(s scope) {
	for _, a := range ancestors(s.rel) {
		if err := wk.rules.loadDir(filepath.Join(wk.root, filepath.FromSlash(a)), a); err != nil {
			wk.warn(err.Error())
		}
	}
	if wk.rules.ignored(s.rel, s.dir) {
		wk.warn(fmt.Sprintf("watcher: watch path %s is ignored (.gitignore, the ignore list or build outputs); not watched", s.rel))
		return
	}
	if s.dir {
		wk.walk(s.rel)
		return
	}
	if wk.enter != nil && !wk.enter(parentRel(s.rel)) {
		return
	}
	if wk.file == nil {
		return
	}
	abs := filepath.Join(wk.root, filepath.FromSlash(s.rel))
	fi, err := os.Lstat(abs)
	if err != nil {
		return
	}
	wk.file(s.rel, fs.FileInfoToDirEntry(fi))
}
