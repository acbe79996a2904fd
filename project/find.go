package project

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Find walks up from dir to the file system root looking for FileName and
// returns the path of the first one found. When there is none, the error
// wraps ErrNotFound.
func Find(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("project: find: %w", err)
	}
	for d := abs; ; {
		p := filepath.Join(d, FileName)
		fi, err := os.Stat(p)
		switch {
		case err == nil && fi.Mode().IsRegular():
			return p, nil
		case err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR):
			return "", fmt.Errorf("project: find: %w", err)
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("project: find: %w in %s or any parent directory", ErrNotFound, abs)
		}
		d = parent
	}
}
