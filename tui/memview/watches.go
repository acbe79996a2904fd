package memview

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"

	tea "charm.land/bubbletea/v2"
)

// watchFile is the user's own watch list as the state dir keeps it: the
// symbols added to the first list and those removed from it. The first
// list itself is not saved: it follows the kernel's symbols.
type watchFile struct {
	Added   []string `json:"added,omitempty"`
	Removed []string `json:"removed,omitempty"`
}

// watchesLoadedMsg is the user's list read at start.
type watchesLoadedMsg struct {
	file watchFile
	err  error
}

// watchesSavedMsg says the list was written, or why not.
type watchesSavedMsg struct{ err error }

// loadWatchesCmd reads the user's list from path; a missing file is an
// empty list.
func loadWatchesCmd(path string) tea.Cmd {
	return func() tea.Msg {
		f, err := loadWatches(path)
		return watchesLoadedMsg{file: f, err: err}
	}
}

func loadWatches(path string) (watchFile, error) {
	var f watchFile
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return f, fmt.Errorf("memview: read watch list: %w", err)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return watchFile{}, fmt.Errorf("memview: read watch list %s: %w", path, err)
	}
	return f, nil
}

// saver orders the background writes of the list: commands run
// concurrently, and an older list must never replace a newer one.
type saver struct {
	mu            sync.Mutex
	next, written int
}

// saveCmd writes f to path in the background, unless a later list was
// written first.
func (s *saver) saveCmd(path string, f watchFile) tea.Cmd {
	s.mu.Lock()
	s.next++
	seq := s.next
	s.mu.Unlock()
	return func() tea.Msg {
		s.mu.Lock()
		defer s.mu.Unlock()
		if seq < s.written {
			return watchesSavedMsg{}
		}
		s.written = seq
		return watchesSavedMsg{err: saveWatches(path, f)}
	}
}

// saveWatches replaces path with f, whole or not at all (a temporary file
// renamed over it), creating the state dir if needed.
func saveWatches(path string, f watchFile) error {
	sort.Strings(f.Removed)
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("memview: save watch list: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("memview: save watch list: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".memory-watches-*")
	if err != nil {
		return fmt.Errorf("memview: save watch list: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.Write(append(b, '\n'))
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		return fmt.Errorf("memview: save watch list: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("memview: save watch list: %w", err)
	}
	return nil
}
