package watcher

import (
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// NewestChange returns the newest modification time among the files a
// Watcher with opts would watch (ignore rules applied, directories
// themselves not counted), and that file's path relative to Root. It
// returns the zero time and "" when there is no such file. Symbolic links
// count with the time of their target. It lets a caller decide, without
// watching, whether the sources are newer than a built image.
func NewestChange(opts Options) (time.Time, string, error) {
	w, err := checkOptions(opts)
	if err != nil {
		return time.Time{}, "", err
	}
	var newest time.Time
	var newestPath string
	wk := &walker{
		root:  w.root,
		rules: w.rules,
		warn:  func(string) {},
		file: func(rel string, d fs.DirEntry) {
			fi, err := d.Info()
			if err != nil {
				return
			}
			if fi.Mode()&fs.ModeSymlink != 0 {
				if fi, err = os.Stat(filepath.Join(w.root, filepath.FromSlash(rel))); err != nil {
					return
				}
			}
			if fi.IsDir() {
				return
			}
			if mt := fi.ModTime(); mt.After(newest) || (mt.Equal(newest) && rel < newestPath) {
				newest, newestPath = mt, rel
			}
		},
	}
	for _, s := range w.scopes {
		wk.scope(s)
	}
	return newest, newestPath, nil
}
