package nanos

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// DefaultLibraryDirs returns the host directories a dynamic program's
// shared libraries are looked up in, after its interpreter's directory and
// its own run paths.
func DefaultLibraryDirs() []string {
	return []string{
		"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
		"/lib64", "/usr/lib64", "/lib", "/usr/lib",
	}
}

// ErrMissingLibrary is returned (wrapped in a *MissingLibraryError) when a
// dynamic program needs a shared library the host does not have.
var ErrMissingLibrary = errors.New("shared library not found")

// MissingLibraryError names every shared library of a program that was
// not found, and where they were looked for.
type MissingLibraryError struct {
	Program string
	// Missing are "libfoo.so.1 (needed by app)" entries, in the order met.
	Missing []string
	// Looked are the directories searched.
	Looked []string
}

func (e *MissingLibraryError) Error() string {
	return fmt.Sprintf("nanos: %s needs shared libraries this host does not have: %s (looked in %s); "+
		"install them or build the program static (CGO_ENABLED=0 for Go)",
		e.Program, strings.Join(e.Missing, ", "), strings.Join(e.Looked, ", "))
}

func (e *MissingLibraryError) Unwrap() error { return ErrMissingLibrary }

// sharedLib is a file a dynamic program needs at run time: the guest path
// the dynamic loader opens and the host file holding it.
type sharedLib struct {
	Guest, Host string
}

// sharedLibs returns the interpreter and every shared library program
// needs, transitively (DT_NEEDED), each at the path the loader finds it
// on this host. A static program needs none. dirs nil means
// DefaultLibraryDirs.
func sharedLibs(program string, dirs []string) ([]sharedLib, error) {
	f, err := elf.Open(program)
	if err != nil {
		return nil, fmt.Errorf("nanos: shared libraries of %s: %w", program, err)
	}
	defer f.Close()
	interp, err := interpreter(f)
	if err != nil {
		return nil, fmt.Errorf("nanos: shared libraries of %s: %w", program, err)
	}
	needed, err := f.ImportedLibraries()
	if err != nil {
		return nil, fmt.Errorf("nanos: shared libraries of %s: %w", program, err)
	}
	if interp == "" && len(needed) == 0 {
		return nil, nil
	}
	if dirs == nil {
		dirs = DefaultLibraryDirs()
	}
	var search []string
	if interp != "" {
		search = append(search, filepath.Dir(interp))
	}
	search = append(search, runPaths(f, filepath.Dir(program))...)
	search = append(search, dirs...)
	search = dedup(search)

	r := libResolver{class: f.Class, machine: f.Machine, search: search, seen: map[string]bool{}}
	name := filepath.Base(program)
	if interp != "" {
		if isFile(interp) {
			r.libs = append(r.libs, sharedLib{Guest: interp, Host: interp})
		} else {
			r.missing = append(r.missing, interp+" (the interpreter of "+name+")")
		}
	}
	r.need(name, needed)
	if len(r.missing) > 0 {
		return nil, &MissingLibraryError{Program: program, Missing: r.missing, Looked: search}
	}
	return r.libs, nil
}

// libResolver walks DT_NEEDED breadth-first, each library once.
type libResolver struct {
	class   elf.Class
	machine elf.Machine
	search  []string
	seen    map[string]bool
	libs    []sharedLib
	missing []string
}

func (r *libResolver) need(by string, names []string) {
	queue := []struct{ by, name string }{}
	for _, n := range names {
		queue = append(queue, struct{ by, name string }{by, n})
	}
	for len(queue) > 0 {
		q := queue[0]
		queue = queue[1:]
		if r.seen[q.name] {
			continue
		}
		r.seen[q.name] = true
		path, f := r.find(q.name)
		if f == nil {
			r.missing = append(r.missing, q.name+" (needed by "+q.by+")")
			continue
		}
		more, _ := f.ImportedLibraries()
		f.Close()
		if !r.seenGuest(path) {
			r.libs = append(r.libs, sharedLib{Guest: path, Host: path})
		}
		for _, n := range more {
			queue = append(queue, struct{ by, name string }{q.name, n})
		}
	}
}

func (r *libResolver) seenGuest(path string) bool {
	for _, l := range r.libs {
		if l.Guest == path {
			return true
		}
	}
	return false
}

// find returns the first library called name in the search path that
// suits the program (same ELF class and machine: /lib may hold 32-bit
// libraries of the same name), opened.
func (r *libResolver) find(name string) (string, *elf.File) {
	candidates := []string{name}
	if !strings.Contains(name, "/") {
		candidates = candidates[:0]
		for _, d := range r.search {
			candidates = append(candidates, filepath.Join(d, name))
		}
	}
	for _, p := range candidates {
		if !isFile(p) {
			continue
		}
		f, err := elf.Open(p)
		if err != nil {
			continue
		}
		if f.Class == r.class && f.Machine == r.machine {
			return p, f
		}
		f.Close()
	}
	return "", nil
}

// interpreter returns the program's PT_INTERP path, "" for a static one.
func interpreter(f *elf.File) (string, error) {
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		b := make([]byte, p.Filesz)
		if _, err := p.ReadAt(b, 0); err != nil {
			return "", fmt.Errorf("read interpreter: %w", err)
		}
		return strings.TrimRight(string(b), "\x00"), nil
	}
	return "", nil
}

// runPaths returns the directories of DT_RUNPATH (or DT_RPATH), with
// $ORIGIN standing for the program's directory.
func runPaths(f *elf.File, origin string) []string {
	var out []string
	for _, tag := range []elf.DynTag{elf.DT_RUNPATH, elf.DT_RPATH} {
		vals, err := f.DynString(tag)
		if err != nil {
			continue
		}
		for _, v := range vals {
			for _, d := range strings.Split(v, ":") {
				d = strings.ReplaceAll(strings.ReplaceAll(d, "${ORIGIN}", origin), "$ORIGIN", origin)
				if d != "" {
					out = append(out, d)
				}
			}
		}
	}
	return out
}

func dedup(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}
