package image

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// BuildDir is the directory holding build's private copies (made by Copy).
func (s *Store) BuildDir(build int) string {
	return filepath.Join(s.Dir, fmt.Sprintf("build-%06d", build))
}

// AddFile copies src read-only into build's directory, made by Copy, as
// name and returns the copy's path, as Copy copies (sparsely, refusing a
// src that is not a regular file, cancelled with ctx). A missing src wraps
// ErrMissingArtifact.
func (s *Store) AddFile(ctx context.Context, build int, src, name string) (string, error) {
	if name == "" || name != filepath.Base(name) {
		return "", fmt.Errorf("kernel: add file %q to build %d: not a plain file name", name, build)
	}
	return copyReadOnly(ctx, src, filepath.Join(s.BuildDir(build), name))
}

// WriteDisk has write create a disk image named name in build's directory,
// made by Copy, and returns its path. Unlike the other copies the disk
// stays writable by its owner: QEMU opens drives read-write, and a guest
// writes to its disk (Nanos saves its log there on a failed exit). Each
// build has its own disk, so a running VM never sees the next one's.
func (s *Store) WriteDisk(build int, name string, write func(path string) error) (string, error) {
	if name == "" || name != filepath.Base(name) {
		return "", fmt.Errorf("kernel: write disk %q of build %d: not a plain file name", name, build)
	}
	dir := s.BuildDir(build)
	if _, err := os.Stat(dir); err != nil {
		return "", fmt.Errorf("kernel: write disk of build %d: %w", build, err)
	}
	path := filepath.Join(dir, name)
	if err := write(path); err != nil {
		return "", err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return "", fmt.Errorf("kernel: write disk of build %d: %w", build, err)
	}
	return path, nil
}
