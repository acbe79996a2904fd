package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// TestSerialFloodLoggedE2E makes the example's guest flood its console
// for a few seconds under `ukdev dev --json` and checks that the boot's
// log file holds every byte the guest says it wrote, each numbered line
// whole and in order: the console path (pty, copier, log writer) loses
// nothing under a flood, whatever the reader of the events keeps up with.
func TestSerialFloodLoggedE2E(t *testing.T) {
	s := startHello(t)
	s.send("flood 3")

	// The log file is waited on, not the events: console events may be
	// dropped when their reader lags; the log keeps every byte.
	logFile := filepath.Join(stateDirOf(t, s.env), "boots", "boot-000001.log")
	start := []byte("\r\nflood: writing for 3 s; ^C stops it\r\n")
	end := regexp.MustCompile(`\r\nflood: wrote (\d+) bytes in \d+\.\d s\r\n`)
	var log []byte
	if !pollUntil(bootWait, func() bool {
		log, _ = os.ReadFile(logFile)
		return end.Match(log)
	}) {
		t.Fatalf("the boot log has no flood end line after %s; it ends with %q\n%s", bootWait, log[max(0, len(log)-300):], s.transcript())
	}
	i := bytes.Index(log, start)
	if i < 0 {
		t.Fatalf("the boot log has no flood start line %q", start)
	}
	rest := log[i+len(start)-2:] // from the start line's \r\n, which the end pattern begins with
	m := end.FindSubmatchIndex(rest)
	wrote, err := strconv.Atoi(string(rest[m[2]:m[3]]))
	if err != nil {
		t.Fatal(err)
	}
	flood := rest[2 : m[0]+2]
	if wrote == 0 {
		t.Fatalf("the guest wrote no flood bytes in 3 s")
	}
	if len(flood) != wrote {
		t.Errorf("the boot log holds %d flood bytes, the guest wrote %d", len(flood), wrote)
	}
	const rest53 = " abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0\r\n"
	for n := 0; len(flood) > 0; n++ {
		want := fmt.Sprintf("%08d%s", n, rest53)
		if !bytes.HasPrefix(flood, []byte(want)) {
			t.Fatalf("flood line %d: got %q, want %q", n, flood[:min(len(flood), len(want))], want)
		}
		flood = flood[len(want):]
	}
	s.quit()
}
