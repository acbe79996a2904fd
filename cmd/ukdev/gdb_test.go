package main

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/manager"
)

func TestSplitGDBArgs(t *testing.T) {
	tests := []struct {
		name        string
		args        []string
		dash        int
		wantProject string
		wantExtra   []string
		wantErr     bool
	}{
		{name: "nothing", dash: -1},
		{name: "a project", args: []string{"hello"}, dash: -1, wantProject: "hello"},
		{name: "gdb's arguments", args: []string{"-batch", "-ex", "bt"}, dash: 0, wantExtra: []string{"-batch", "-ex", "bt"}},
		{name: "both", args: []string{"hello", "-batch"}, dash: 1, wantProject: "hello", wantExtra: []string{"-batch"}},
		{name: "two projects", args: []string{"a", "b"}, dash: -1, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			project, extra, err := splitGDBArgs(tt.args, tt.dash)
			if (err != nil) != tt.wantErr || project != tt.wantProject || !slices.Equal(extra, tt.wantExtra) {
				t.Errorf("splitGDBArgs = %q, %q, %v; want %q, %q, error %v", project, extra, err, tt.wantProject, tt.wantExtra, tt.wantErr)
			}
		})
	}
}

func TestRunGDBPrint(t *testing.T) {
	var stdout, stderr strings.Builder
	a := &app{stdout: &stdout, stderr: &stderr}
	s := devloop.GDBSession{Address: "/run/u 1/gdb-1.sock", Note: "no symbols",
		Args: []string{"gdb", "-q", "-ex", "set architecture i386:x86-64", "/run/u 1/kernel", "-ex", "target remote /run/u 1/gdb-1.sock"}}
	if err := a.runGDB(s, []string{"-batch", "-ex", "print ticks"}, true); err != nil {
		t.Fatal(err)
	}
	want := "gdb -q -ex 'set architecture i386:x86-64' '/run/u 1/kernel' -ex 'target remote /run/u 1/gdb-1.sock' -batch -ex 'print ticks'\n"
	if stdout.String() != want {
		t.Errorf("printed %q\nwant    %q", stdout.String(), want)
	}
	if !strings.Contains(stderr.String(), "note: no symbols") {
		t.Errorf("stderr %q does not give the note", stderr.String())
	}
}

// Without a running ukdev for the project, ukdev gdb says so and runs
// nothing.
func TestGDBCommandWithoutRemote(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir()) // an empty registry
	var stdout, stderr strings.Builder
	code := run([]string{"-C", t.TempDir(), "gdb", "--print"}, strings.NewReader(""), &stdout, &stderr)
	if code != 1 || stdout.String() != "" || !strings.Contains(stderr.String(), "no ukdev is running") {
		t.Errorf("ukdev gdb --print: exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
	stderr.Reset()
	code = run([]string{"gdb", "a", "b"}, strings.NewReader(""), &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "at most one project") {
		t.Errorf("ukdev gdb a b: exit %d, stderr %q", code, stderr.String())
	}
	if _, err := (&app{dir: t.TempDir()}).remoteGDB(t.Context(), "", false); !errors.Is(err, manager.ErrNotFound) {
		t.Errorf("remoteGDB = %v, want manager.ErrNotFound", err)
	}
}
