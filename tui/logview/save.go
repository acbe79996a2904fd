package logview

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/ukdev/ukdev/nofollow"
)

// saveTimeLayout is the time column of a saved file.
const saveTimeLayout = "2006-01-02 15:04:05.000"

// saveName is the file ctrl+s writes: ukdev-logs-<time>.txt in dir ("" is
// the working directory).
func saveName(dir string, now time.Time) string {
	return filepath.Join(dir, "ukdev-logs-"+now.Format("20060102-150405")+".txt")
}

// writeLines writes lines as plain text, one per line with its time, boot
// and source, to a new file at path. It never overwrites a file.
func writeLines(path string, lines []line) (err error) {
	f, err := nofollow.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("logview: save: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("logview: save: %w", cerr)
		}
	}()
	w := bufio.NewWriter(f)
	blank := fmt.Sprintf("%*s", len(saveTimeLayout), "")
	for _, l := range lines {
		at := blank
		if !l.at.IsZero() {
			at = l.at.Format(saveTimeLayout)
		}
		boot := "-"
		if l.boot > 0 {
			boot = "#" + strconv.Itoa(l.boot)
		}
		fmt.Fprintf(w, "%s %-5s %-7s %s\n", at, boot, l.source, l.plain)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("logview: save: %w", err)
	}
	return nil
}
