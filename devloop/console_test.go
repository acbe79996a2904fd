package devloop

import (
	"strings"
	"testing"

	"github.com/ukdev/ukdev/logs"
)

// TestConsoleWithoutLogFileKeepsNothing checks that when a boot's log file
// could not be opened (the error is reported when it happens), the
// console's bytes are not kept in memory waiting for a file that will
// never come.
func TestConsoleWithoutLogFileKeepsNothing(t *testing.T) {
	w := &consoleWriter{l: &Loop{}, split: logs.NewSplitter(0), show: func(string) bool { return false }}
	w.setFile(nil)
	chunk := []byte(strings.Repeat("guest output\r\n", 1000))
	for range 1000 {
		if _, err := w.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	held := 0
	for _, p := range w.early {
		held += len(p)
	}
	if held > 0 {
		t.Errorf("the console keeps %d bytes for a log file that never opened", held)
	}
}
