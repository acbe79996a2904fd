package lines_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ukdev/ukdev/deploy/internal/lines"
)

type got struct {
	s    lines.Stream
	text string
}

func TestRun(t *testing.T) {
	tests := []struct {
		name     string
		script   string
		want     []got
		exitCode int // 0: no error
	}{
		{"both streams", "echo one; echo two >&2; printf 'no newline'",
			[]got{{lines.Stdout, "one"}, {lines.Stderr, "two"}, {lines.Stdout, "no newline"}}, 0},
		{"crlf", "printf 'a\\r\\nb\\n'", []got{{lines.Stdout, "a"}, {lines.Stdout, "b"}}, 0},
		{"failure", "echo bad >&2; exit 3", []got{{lines.Stderr, "bad"}}, 3},
		// A background job holding the output does not hold Run.
		{"background job", "sleep 60 & echo started", []got{{lines.Stdout, "started"}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out []got
			err := lines.Run(context.Background(), lines.Cmd{Argv: []string{"sh", "-c", tt.script}, Dir: t.TempDir()}, func(s lines.Stream, text string) {
				// The two streams interleave in any order: each is
				// compared on its own below.
				out = append(out, got{s, text})
			})
			var ee *exec.ExitError
			switch {
			case tt.exitCode == 0 && err != nil:
				t.Fatalf("Run: %v", err)
			case tt.exitCode != 0 && (!errors.As(err, &ee) || ee.ExitCode() != tt.exitCode):
				t.Fatalf("Run = %v, want exit status %d", err, tt.exitCode)
			}
			for _, s := range []lines.Stream{lines.Stdout, lines.Stderr} {
				if a, b := only(out, s), only(tt.want, s); !reflect.DeepEqual(a, b) {
					t.Errorf("%s: got %q, want %q", s, a, b)
				}
			}
		})
	}
}

func only(list []got, s lines.Stream) []string {
	var texts []string
	for _, g := range list {
		if g.s == s {
			texts = append(texts, g.text)
		}
	}
	return texts
}

// A cancel kills the whole group, the shell's children included, and Run
// returns the context's error.
func TestRunCancelKillsGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	script := "trap '' TERM; sleep 60 & echo $! > " + pidFile + "; echo ready; wait"
	errc := make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		errc <- lines.Run(ctx, lines.Cmd{Argv: []string{"sh", "-c", script}, Dir: dir}, func(s lines.Stream, text string) {
			if text == "ready" {
				close(ready)
			}
		})
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("the script did not start")
	}
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
	case <-time.After(lines.Grace + 10*time.Second):
		t.Fatal("Run did not return after the cancel")
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	// The child is gone (or a zombie of init's, which signal 0 cannot
	// tell apart: read its state).
	deadline := time.Now().Add(5 * time.Second)
	for {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil || strings.Contains(string(stat), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("the script's child %d survived the cancel", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
