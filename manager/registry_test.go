package manager

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// holdEnv makes the test binary a registry owner (see TestMain): it
// registers the entry given as JSON, listens on its socket, says "ready"
// and waits to be killed.
const holdEnv = "UKDEV_MANAGER_TEST_HOLD"

func TestMain(m *testing.M) {
	if spec := os.Getenv(holdEnv); spec != "" {
		os.Exit(hold(spec))
	}
	os.Exit(m.Run())
}

func hold(spec string) int {
	var args struct {
		Dir   string
		Entry Entry
	}
	if err := json.Unmarshal([]byte(spec), &args); err != nil {
		fmt.Println(err)
		return 2
	}
	ln, err := net.Listen("unix", args.Entry.Socket)
	if err != nil {
		fmt.Println(err)
		return 2
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	if _, err := register(args.Dir, args.Entry); err != nil {
		fmt.Println(err)
		return 2
	}
	fmt.Println("ready")
	select {}
}

// shortTemp is a private temporary directory with a short path, for
// sockets (108 bytes at most).
func shortTemp(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "mgr")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func testEntry(dir, name string) Entry {
	root := filepath.Join(dir, "src", name)
	return Entry{Project: name, Root: root, Flavor: "elf", PID: os.Getpid(),
		Socket: filepath.Join(dir, name+".sock"), Started: time.Unix(1700000000, 0).UTC()}
}

func TestRegistry(t *testing.T) {
	dir := shortTemp(t)
	a, b := testEntry(dir, "alpha"), testEntry(dir, "beta")
	ra, err := register(dir, a)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := register(dir, b)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*registration{ra, rb} {
		fi, err := os.Stat(r.path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", r.path, fi.Mode().Perm())
		}
	}
	// Files that are not live entries are left out.
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(ra.path, filepath.Join(dir, "link.json")); err != nil {
		t.Fatal(err)
	}
	got, err := liveEntries(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != a || got[1] != b {
		t.Fatalf("liveEntries = %+v, want alpha then beta", got)
	}
	rb.remove()
	rb.remove() // idempotent
	got, _ = liveEntries(dir)
	if len(got) != 1 || got[0] != a {
		t.Fatalf("after beta's removal: %+v, want alpha", got)
	}
	if _, err := os.Stat(rb.path); !os.IsNotExist(err) {
		t.Errorf("beta's entry file is still there: %v", err)
	}
	ra.remove()
}

// An entry whose owner was killed (SIGKILL: nothing of its own runs) is
// never listed, and is removed with its stale socket, while the entry of a
// live owner in the same directory stays.
func TestRegistryKilledOwner(t *testing.T) {
	dir := shortTemp(t)
	dead := testEntry(dir, "dead")
	spec, _ := json.Marshal(map[string]any{"Dir": dir, "Entry": dead})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), holdEnv+"="+string(spec))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if line, _ := bufio.NewReader(out).ReadString('\n'); line != "ready\n" {
		t.Fatalf("the owner did not register: %q", line)
	}
	live := testEntry(dir, "live")
	r, err := register(dir, live)
	if err != nil {
		t.Fatal(err)
	}
	defer r.remove()

	got, err := liveEntries(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("with the owner alive: %+v, want dead and live", got)
	}

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	got, err = liveEntries(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != live {
		t.Fatalf("after the owner's SIGKILL: %+v, want only live", got)
	}
	if _, err := os.Lstat(filepath.Join(dir, entryFile(dead))); !os.IsNotExist(err) {
		t.Errorf("the dead entry's file is still there: %v", err)
	}
	if _, err := os.Lstat(dead.Socket); !os.IsNotExist(err) {
		t.Errorf("the dead entry's socket is still there: %v", err)
	}
}

// A dead entry's socket is left alone while something listens on it: a
// new ukdev on the same project may already serve there.
func TestRegistryDeadEntryKeepsLiveSocket(t *testing.T) {
	dir := shortTemp(t)
	e := testEntry(dir, "again")
	ln, err := net.Listen("unix", e.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	data, _ := json.Marshal(e)
	path := filepath.Join(dir, entryFile(e))
	if err := os.WriteFile(path, data, 0o600); err != nil { // no owner holds it
		t.Fatal(err)
	}
	if got, _ := liveEntries(dir); len(got) != 0 {
		t.Fatalf("an unlocked entry was listed: %+v", got)
	}
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("the unlocked entry is still there")
	}
	if fi, err := os.Lstat(e.Socket); err != nil || fi.Mode().Type() != fs.ModeSocket {
		t.Errorf("a socket something listens on was removed: %v", err)
	}
}

func TestMatch(t *testing.T) {
	dir := shortTemp(t)
	vms := []VM{
		{Entry: Entry{Project: "web", Root: filepath.Join(dir, "a", "web")}},
		{Entry: Entry{Project: "api", Root: filepath.Join(dir, "b")}},
		{Entry: Entry{Project: "api", Root: filepath.Join(dir, "c")}},
		{Entry: Entry{Project: "inner", Root: filepath.Join(dir, "b", "inner")}},
	}
	for _, d := range []string{"a/web/src", "b/inner/x", "b/other", "c"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A mistyped name inside a project is not that project.
	t.Chdir(filepath.Join(dir, "a", "web"))
	tests := []struct {
		arg      string
		wantRoot string
		wantErr  error
	}{
		{"web", filepath.Join(dir, "a", "web"), nil},
		{filepath.Join(dir, "a", "web", "src"), filepath.Join(dir, "a", "web"), nil},
		{filepath.Join(dir, "b", "inner", "x"), filepath.Join(dir, "b", "inner"), nil},
		{filepath.Join(dir, "b", "other"), filepath.Join(dir, "b"), nil},
		{"api", "", ErrAmbiguous},
		{"nothing", "", ErrNotFound},
		{filepath.Join(dir, "a"), "", ErrNotFound},
		{"src", filepath.Join(dir, "a", "web"), nil},
		{"nosuchdir", "", ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.arg, func(t *testing.T) {
			got, err := match(vms, tt.arg)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("match(%q) = %+v, %v; want %v", tt.arg, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got.Root != tt.wantRoot {
				t.Fatalf("match(%q) = %q, %v; want %q", tt.arg, got.Root, err, tt.wantRoot)
			}
		})
	}
	if _, err := match(nil, "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("match with nothing running: %v, want ErrNotFound", err)
	}
}
