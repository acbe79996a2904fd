package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ukdev/ukdev/devloop"
)

// These end-to-end tests cover what the log store keeps when things go
// wrong: ukdev killed while a boot runs, the index lost, a crash in a
// store much smaller than the boot's output.

// listLine matches a line of `ukdev logs --list`.
var listLine = regexp.MustCompile(`^boot (\d+) +build (\d+) +(\S+ \S+|\?) +→ (\S+) +(\S*(?: -?\d+)?) +(\d+) bytes`)

type listedBoot struct {
	boot, build int
	start, end  string
	reason      string
	bytes       int64
}

func listBootsCLI(t *testing.T, dir string, env []string) []listedBoot {
	t.Helper()
	r := runCLI(t, dir, env, "", "logs", "--list")
	if r.code != 0 {
		t.Fatalf("ukdev logs --list\n%s", r)
	}
	var out []listedBoot
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		m := listLine.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("ukdev logs --list printed %q\n%s", l, r)
		}
		boot, _ := strconv.Atoi(m[1])
		build, _ := strconv.Atoi(m[2])
		size, _ := strconv.ParseInt(m[6], 10, 64)
		out = append(out, listedBoot{boot: boot, build: build, start: m[3], end: m[4], reason: strings.TrimSpace(m[5]), bytes: size})
	}
	return out
}

// TestLogsListAfterKill kills ukdev with SIGKILL while boot 1 runs: the
// boot must then be listed as ended, with its size, not as running with 0
// bytes forever; while ukdev runs it must be listed as running. A lost
// index is rebuilt with real start times.
func TestLogsListAfterKill(t *testing.T) {
	s := startHello(t)
	dir, env := s.dir, s.env

	// The console reaches the file within ukdev's flush interval: poll
	// the list until it shows the bytes.
	deadline := time.Now().Add(quickWait)
	for {
		boots := listBootsCLI(t, dir, env)
		if len(boots) != 1 || boots[0].end != "running" {
			t.Fatalf("while ukdev runs, want boot 1 running: %+v", boots)
		}
		if boots[0].bytes > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("running boot 1 listed with 0 bytes after %s: %+v", quickWait, boots)
		}
	}

	s.kill()
	waitNoQEMU(t, runtimeDirOf(t, env), quickWait)

	logFile := filepath.Join(stateDirOf(t, env), "boots", "boot-000001.log")
	fi, err := os.Stat(logFile)
	if err != nil {
		t.Fatal(err)
	}
	boots := listBootsCLI(t, dir, env)
	if len(boots) != 1 || boots[0].end == "running" || boots[0].reason != "unknown" || boots[0].bytes != fi.Size() || boots[0].build != 1 {
		t.Fatalf("after SIGKILL, want boot 1 ended (unknown) with its %d bytes, build 1: %+v", fi.Size(), boots)
	}
	startBefore := boots[0].start

	// The index is lost: the list is rebuilt from the files, with times.
	if err := os.Remove(filepath.Join(stateDirOf(t, env), "boots", "index.json")); err != nil {
		t.Fatal(err)
	}
	boots = listBootsCLI(t, dir, env)
	if len(boots) != 1 || boots[0].start == "?" || strings.HasPrefix(boots[0].start, "0001-") || boots[0].end == "running" {
		t.Fatalf("rebuilt list, want boot 1 with a start time and an end: %+v", boots)
	}
	if boots[0].start[:10] != startBefore[:10] {
		t.Errorf("rebuilt start %s, want the day of %s", boots[0].start, startBefore)
	}

	// The next ukdev records it for good and goes on from boot 2.
	s = startDev(t, dir, env)
	s.waitFor("boot 2 banner", bootWait, consoleLine(2, "hello from ukdev"))
	s.quit()
	boots = listBootsCLI(t, dir, env)
	if len(boots) != 2 || boots[0].reason != "unknown" || boots[1].reason != "killed" {
		t.Fatalf("after the next run, want boot 1 unknown and boot 2 killed: %+v", boots)
	}
}

// TestCrashLogKeptInSmallStore is the case: with logs.max_bytes =
// "4K", 100 echoed lines and a panic. While the crashed VM is frozen for
// inspection, ukdev logs must show the boot's head, a marker saying how
// much was cut, and the panic; the boot must stay listed.
func TestCrashLogKeptInSmallStore(t *testing.T) {
	dir, env := helloProject(t, "logs.max_bytes = \"4K\"\n")
	s := startDev(t, dir, env)
	s.waitFor("boot 1 banner", bootWait, consoleLine(1, "hello from ukdev"))
	for i := range 100 {
		s.send(fmt.Sprintf("echo flood line %03d with some words to make it longer", i))
	}
	s.waitFor("the last echo", bootWait, consoleLine(1, "flood line 099 with some words to make it longer"))
	s.send("panic")
	s.waitFor("the panic", bootWait, func(e jsonEvent) bool { return e.Type == devloop.TypeVMExit && e.Reason == "panic" })

	// The VM is frozen; ukdev still runs. The console's last bytes reach
	// the file within ukdev's flush interval: poll ukdev logs for them.
	deadline := time.Now().Add(quickWait)
	var r cliResult
	for {
		r = runCLI(t, dir, env, "", "logs")
		if r.code == 0 && strings.Contains(r.stdout, "panic: guest panic requested") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ukdev logs does not show the panic within %s\n%s", quickWait, r)
		}
	}
	if !hasLine(r.stdout, "hello from ukdev") {
		t.Errorf("ukdev logs lacks the boot's head (its banner)\n%s", r)
	}
	if !regexp.MustCompile(`\[ukdev: \d+ bytes of this boot's output cut here`).MatchString(r.stdout) {
		t.Errorf("ukdev logs lacks the marker saying what was cut\n%s", r)
	}
	if fi, err := os.Stat(filepath.Join(stateDirOf(t, env), "boots", "boot-000001.log")); err != nil || fi.Size() > 4<<10 {
		t.Errorf("boot 1's file: %v, %v; want at most 4 KiB", fi, err)
	}
	boots := listBootsCLI(t, dir, env)
	if len(boots) != 1 || boots[0].reason != "panic" {
		t.Errorf("ukdev logs --list: want boot 1 ended in a panic: %+v", boots)
	}
	s.quit()
}

// TestDashboardSavesLogsToStateDir presses ctrl+s in the logs panel of the
// real dashboard: the file must go to the state directory, never into the
// project (which is watched: a save there rebuilt and rebooted the VM),
// and the panel must show where it went.
func TestDashboardSavesLogsToStateDir(t *testing.T) {
	dir, env := helloProject(t, "")
	s := startDashboard(t, "save", dir, env, 160, 40, "")
	s.waitText("dashboard with the banner", bootWait, "2 logs", "hello from ukdev")

	// The logs panel, maximised so that the path fits on one row.
	s.keys("2")
	s.keys("f")
	s.keys("C-s")
	s.waitText("the saved notice", quickWait, "saved to ")
	saved, err := filepath.Glob(filepath.Join(stateDirOf(t, env), "ukdev-logs-*.txt"))
	if err != nil || len(saved) != 1 {
		t.Fatalf("saved files in the state directory: %v, %v; want one\nlast screen:\n%s", saved, err, s.last)
	}
	if !strings.Contains(s.last, "saved to "+saved[0]) {
		t.Errorf("the panel does not show the whole path %s:\n%s", saved[0], s.last)
	}
	if inProject, _ := filepath.Glob(filepath.Join(dir, "ukdev-logs-*")); len(inProject) > 0 {
		t.Errorf("the save wrote into the project: %v", inProject)
	}
	if data, err := os.ReadFile(saved[0]); err != nil || !strings.Contains(string(data), "hello from ukdev") {
		t.Errorf("saved file: %v; want the console's banner in it:\n%s", err, data)
	}

	s.quit()
}
