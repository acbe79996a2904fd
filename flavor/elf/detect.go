package elf

import (
	"bytes"
	"encoding/binary"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ukdev/ukdev/project"
)

// Limits on the search for an existing kernel, so that Detect stays quick
// in a large tree.
const (
	detectMaxDepth   = 4
	detectMaxEntries = 5000
)

// DetectOrder implements project.Flavor: the elf flavor matches any
// directory, so it comes last.
func (Flavor) DetectOrder() int { return 100 }

// Detect implements project.Flavor, and always matches: a Makefile means
// "make", and the kernel image is an ELF path the Makefile mentions or
// else an ELF executable already in the tree; complete only with both a
// Makefile and an image.
func (Flavor) Detect(dir string, asked bool) (project.Detection, bool) {
	var d project.Detection
	makefile, data := project.ReadMakefile(dir)
	if makefile != "" {
		d.BuildCommand = "make"
		d.Source = makefile
		if img := imageFromMakefile(dir, data); img != "" {
			d.Image = img
			d.Reason = project.OneLine(makefile + " builds " + img)
			d.Complete = true
			return d, true
		}
	}
	img := findELF(dir)
	switch {
	case makefile != "" && img != "":
		d.Image = img
		d.Reason = project.OneLine(makefile + " found; " + img + " is an ELF executable")
		d.Complete = true
	case makefile != "":
		d.Reason = project.OneLine(makefile + " found; set kernel.image to the kernel it builds")
	case img != "":
		d.Image = img
		d.Reason = project.OneLine("found ELF executable " + img + "; set build.command")
	default:
		d.Reason = "no Makefile or ELF kernel found; set build.command and kernel.image"
	}
	return d, true
}

// imageFromMakefile picks the kernel a makefile builds: the first literal
// path ending in ".elf", else the first literal path that already is an ELF
// executable. Paths built from variables ("$(BUILD)/x.elf") are skipped: the
// makefile would have to be evaluated to know them.
func imageFromMakefile(dir string, data []byte) string {
	words := strings.FieldsFunc(string(data), func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\n' || r == '\r' || strings.ContainsRune("=:;,\"'|<>", r)
	})
	var candidates []string
	for _, w := range words {
		w = strings.TrimPrefix(w, "./")
		if w == "" || strings.ContainsAny(w, "$%*?()[]{}\\#") || filepath.IsAbs(w) || strings.HasPrefix(w, "-") || strings.HasPrefix(w, "../") {
			continue
		}
		if strings.HasSuffix(w, ".elf") {
			return w
		}
		candidates = append(candidates, w)
	}
	for _, w := range candidates {
		if isELFExec(filepath.Join(dir, filepath.FromSlash(w))) {
			return w
		}
	}
	return ""
}

// findELF looks for an ELF executable in the tree under dir, preferring a
// file named *.elf, then the shallowest; hidden directories are skipped.
func findELF(dir string) string {
	best, bestScore := "", -1
	entries := 0
	_ = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		entries++
		if err != nil || entries > detectMaxEntries {
			return filepath.SkipDir
		}
		rel, relErr := filepath.Rel(dir, p)
		if relErr != nil {
			return nil
		}
		depth := strings.Count(rel, string(filepath.Separator))
		if e.IsDir() {
			if rel != "." && (strings.HasPrefix(e.Name(), ".") || e.Name() == "node_modules" || depth >= detectMaxDepth) {
				return filepath.SkipDir
			}
			return nil
		}
		if !e.Type().IsRegular() || !isELFExec(p) {
			return nil
		}
		score := 100 - depth
		if strings.HasSuffix(e.Name(), ".elf") {
			score += 1000
		}
		if score > bestScore {
			best, bestScore = filepath.ToSlash(rel), score
		}
		return nil
	})
	return best
}

// isELFExec reports whether the file at p is an ELF executable (ET_EXEC),
// the type of a kernel; object files and shared libraries are not.
func isELFExec(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	var hdr [18]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil {
		return false
	}
	if !bytes.Equal(hdr[:4], []byte("\x7fELF")) {
		return false
	}
	const etExec = 2
	switch hdr[5] {
	case 1:
		return binary.LittleEndian.Uint16(hdr[16:]) == etExec
	case 2:
		return binary.BigEndian.Uint16(hdr[16:]) == etExec
	}
	return false
}
