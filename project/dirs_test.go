package project

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestFind(t *testing.T) {
	top := t.TempDir()
	nested := filepath.Join(top, "a", "b", "c")
	if err := os.MkdirAll(nested, 0o755); err != nil {
		t.Fatal(err)
	}
	// A directory named like the config file must not count as one.
	if err := os.Mkdir(filepath.Join(top, "a", "b", FileName), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(top, "a", FileName)
	if err := os.WriteFile(cfg, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, dir, want string
	}{
		{"nested", nested, cfg},
		{"at the root", filepath.Join(top, "a"), cfg},
		{"a file in a dir as start", filepath.Join(top, "a", FileName), cfg},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Find(tt.dir)
			if err != nil || got != tt.want {
				t.Fatalf("Find(%q) = %q, %v; want %q", tt.dir, got, err, tt.want)
			}
		})
	}
	t.Run("relative", func(t *testing.T) {
		t.Chdir(nested)
		got, err := Find(".")
		if err != nil || got != cfg {
			t.Fatalf("Find(.) = %q, %v; want %q", got, err, cfg)
		}
	})
	t.Run("not found", func(t *testing.T) {
		if _, err := os.Stat(filepath.Join("/", FileName)); err == nil {
			t.Skip("a ukdev.toml exists at /")
		}
		_, err := Find(top)
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("Find(%q) = %v, want ErrNotFound", top, err)
		}
	})
}

func testConfig(name, root string) *Config {
	return &Config{Name: name, Root: root}
}

func TestStateDir(t *testing.T) {
	c := testConfig("hello", "/work/proj")
	hash := rootHash("/work/proj")
	tests := []struct {
		name, xdg, home, want string
	}{
		{"xdg", "/xdg/state", "/home/u", "/xdg/state/ukdev/hello-" + hash},
		{"relative xdg ignored", "rel/state", "/home/u", "/home/u/.local/state/ukdev/hello-" + hash},
		{"unset", "", "/home/u", "/home/u/.local/state/ukdev/hello-" + hash},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("XDG_STATE_HOME", tt.xdg)
			t.Setenv("HOME", tt.home)
			if got, err := StateDir(c); err != nil || got != tt.want {
				t.Fatalf("StateDir = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	t.Run("unsafe name and other root", func(t *testing.T) {
		t.Setenv("XDG_STATE_HOME", "/s")
		got, err := StateDir(testConfig("../my proj", "/other"))
		want := "/s/ukdev/p.._my_proj-" + rootHash("/other")
		if err != nil || got != want {
			t.Fatalf("StateDir = %q, %v; want %q", got, err, want)
		}
	})
	t.Run("temp fallback", func(t *testing.T) {
		tmp := t.TempDir()
		t.Setenv("XDG_STATE_HOME", "")
		t.Setenv("HOME", "")
		t.Setenv("TMPDIR", tmp)
		top := filepath.Join(tmp, "ukdev-"+strconv.Itoa(os.Getuid()))
		want := filepath.Join(top, "state", "hello-"+hash)
		for range 2 { // a second call finds the directories ready
			got, err := StateDir(c)
			if err != nil || got != want {
				t.Fatalf("StateDir = %q, %v; want %q", got, err, want)
			}
		}
		checkMode(t, top)
		checkMode(t, filepath.Dir(want))
		checkMode(t, want)
	})
	t.Run("symlinked root", func(t *testing.T) {
		t.Setenv("XDG_STATE_HOME", t.TempDir())
		t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
		root := filepath.Join(t.TempDir(), "proj")
		if err := os.Mkdir(root, 0o755); err != nil {
			t.Fatal(err)
		}
		via := filepath.Join(t.TempDir(), "link")
		link(t, root, via)
		var state, run []string
		for _, r := range []string{root, via} {
			c, err := Parse(filepath.Join(r, FileName), []byte("kernel.image = \"k\"\n"))
			if err != nil {
				t.Fatal(err)
			}
			s, err := StateDir(c)
			if err != nil {
				t.Fatal(err)
			}
			rd, err := RuntimeDir(c)
			if err != nil {
				t.Fatal(err)
			}
			state, run = append(state, s), append(run, rd)
		}
		if state[0] != state[1] || run[0] != run[1] {
			t.Errorf("through a symlink: state %q, runtime %q; want those of the real root: %q, %q", state[1], run[1], state[0], run[0])
		}
		if want := "proj-" + rootHash(root); filepath.Base(state[1]) != want {
			t.Errorf("state dir %q, want one named %q", state[1], want)
		}
	})
	if got, err := StateDir(nil); err == nil {
		t.Errorf("StateDir(nil) = %q, want an error", got)
	}
}

// Every directory of the state dir's fallback under the shared temp dir
// is refused when someone else could have made it or can write in it;
// files planted inside it are left alone.
func TestStateDirFallbackUnsafe(t *testing.T) {
	c := testConfig("hello", "/work/proj")
	leafName := "hello-" + rootHash("/work/proj")
	tests := []struct {
		name  string
		setup func(t *testing.T, top string) // top is <tmp>/ukdev-<uid>
		want  string                         // part of the reason
	}{
		{"top world writable", func(t *testing.T, top string) { mkdirMode(t, top, 0o777) }, "mode 0777"},
		{"top a symlink", func(t *testing.T, top string) { link(t, t.TempDir(), top) }, "symbolic link"},
		{"top other owner", func(t *testing.T, top string) { mkdirOwned(t, top) }, "belongs to uid 65534"},
		{"state world writable", func(t *testing.T, top string) {
			mkdirMode(t, top, 0o700)
			mkdirMode(t, filepath.Join(top, "state"), 0o777)
		}, "mode 0777"},
		{"state a symlink", func(t *testing.T, top string) {
			mkdirMode(t, top, 0o700)
			link(t, t.TempDir(), filepath.Join(top, "state"))
		}, "symbolic link"},
		{"leaf group readable with symlinks inside", func(t *testing.T, top string) {
			mkdirMode(t, top, 0o700)
			mkdirMode(t, filepath.Join(top, "state"), 0o700)
			leaf := filepath.Join(top, "state", leafName)
			mkdirMode(t, leaf, 0o750)
			link(t, "/etc/passwd", filepath.Join(leaf, "lock"))
			link(t, "/etc/passwd", filepath.Join(leaf, "ukdev.log"))
		}, "mode 0750"},
		{"leaf other owner", func(t *testing.T, top string) {
			mkdirMode(t, top, 0o700)
			mkdirMode(t, filepath.Join(top, "state"), 0o700)
			mkdirOwned(t, filepath.Join(top, "state", leafName))
		}, "belongs to uid 65534"},
		{"leaf a file", func(t *testing.T, top string) {
			mkdirMode(t, top, 0o700)
			mkdirMode(t, filepath.Join(top, "state"), 0o700)
			if err := os.WriteFile(filepath.Join(top, "state", leafName), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}, "not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			t.Setenv("XDG_STATE_HOME", "")
			t.Setenv("HOME", "")
			t.Setenv("TMPDIR", tmp)
			tt.setup(t, filepath.Join(tmp, "ukdev-"+strconv.Itoa(os.Getuid())))
			got, err := StateDir(c)
			if !errors.Is(err, ErrUnsafeDir) {
				t.Fatalf("StateDir = %q, %v; want ErrUnsafeDir", got, err)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "project: state dir: ") {
				t.Errorf("StateDir error %q does not say %q", err, tt.want)
			}
		})
	}
}

func link(t *testing.T, target, p string) {
	t.Helper()
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

// mkdirOwned makes a 0700 directory that belongs to another user.
func mkdirOwned(t *testing.T, dir string) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("needs root to create a directory owned by another user")
	}
	mkdirMode(t, dir, 0o700)
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
}

func TestRuntimeDir(t *testing.T) {
	c := testConfig(strings.Repeat("n", 64), "/work/proj")
	hash := rootHash("/work/proj")
	t.Run("xdg", func(t *testing.T) {
		xdg := t.TempDir()
		t.Setenv("XDG_RUNTIME_DIR", xdg)
		t.Setenv("TMPDIR", t.TempDir())
		room := maxSocketPath - MaxSocketName - len(xdg) - len("/ukdev/-") - 8 - 1
		want := filepath.Join(xdg, "ukdev", strings.Repeat("n", min(room, maxDirName))+"-"+hash)
		for range 2 { // a second call finds the directory ready
			got, err := RuntimeDir(c)
			if err != nil || got != want {
				t.Fatalf("RuntimeDir = %q, %v; want %q", got, err, want)
			}
		}
		checkMode(t, filepath.Join(xdg, "ukdev"))
		checkMode(t, want)
	})
	t.Run("temp fallback", func(t *testing.T) {
		tmp := t.TempDir()
		t.Setenv("XDG_RUNTIME_DIR", "")
		t.Setenv("TMPDIR", tmp)
		got, err := RuntimeDir(c)
		want := filepath.Join(tmp, "ukdev-"+strconv.Itoa(os.Getuid()), hash)
		if err != nil || got != want {
			t.Fatalf("RuntimeDir = %q, %v; want %q", got, err, want)
		}
		checkMode(t, filepath.Dir(want))
		checkMode(t, want)
	})
	t.Run("xdg too long falls back", func(t *testing.T) {
		xdg := filepath.Join(t.TempDir(), strings.Repeat("x", 60))
		if err := os.Mkdir(xdg, 0o700); err != nil {
			t.Fatal(err)
		}
		tmp := t.TempDir()
		t.Setenv("XDG_RUNTIME_DIR", xdg)
		t.Setenv("TMPDIR", tmp)
		got, err := RuntimeDir(c)
		if err != nil || !strings.HasPrefix(got, tmp) {
			t.Fatalf("RuntimeDir = %q, %v; want a dir under %q", got, err, tmp)
		}
		if len(got)+1+MaxSocketName > maxSocketPath {
			t.Fatalf("%q leaves no room for socket names", got)
		}
	})
	t.Run("temp too long", func(t *testing.T) {
		tmp := filepath.Join(t.TempDir(), strings.Repeat("t", 90))
		if err := os.Mkdir(tmp, 0o700); err != nil {
			t.Fatal(err)
		}
		t.Setenv("XDG_RUNTIME_DIR", "")
		t.Setenv("TMPDIR", tmp)
		if got, err := RuntimeDir(c); err == nil {
			t.Fatalf("RuntimeDir = %q, want an error", got)
		}
	})
	unsafe := []struct {
		name  string
		setup func(t *testing.T, dir string)
	}{
		{"group readable", func(t *testing.T, dir string) { mkdirMode(t, dir, 0o750) }},
		{"world writable", func(t *testing.T, dir string) { mkdirMode(t, dir, 0o777) }},
		{"symlink", func(t *testing.T, dir string) {
			target := t.TempDir()
			if err := os.Symlink(target, dir); err != nil {
				t.Fatal(err)
			}
		}},
		{"a file", func(t *testing.T, dir string) {
			if err := os.WriteFile(dir, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"other owner", mkdirOwned},
	}
	for _, tt := range unsafe {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			t.Setenv("XDG_RUNTIME_DIR", "")
			t.Setenv("TMPDIR", tmp)
			tt.setup(t, filepath.Join(tmp, "ukdev-"+strconv.Itoa(os.Getuid())))
			got, err := RuntimeDir(c)
			if !errors.Is(err, ErrUnsafeDir) {
				t.Fatalf("RuntimeDir = %q, %v; want ErrUnsafeDir", got, err)
			}
		})
	}
	t.Run("unsafe leaf", func(t *testing.T) {
		xdg := t.TempDir()
		t.Setenv("XDG_RUNTIME_DIR", xdg)
		t.Setenv("TMPDIR", t.TempDir())
		mkdirMode(t, filepath.Join(xdg, "ukdev"), 0o700)
		good, err := RuntimeDir(c)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(good, 0o755); err != nil {
			t.Fatal(err)
		}
		if _, err := RuntimeDir(c); !errors.Is(err, ErrUnsafeDir) {
			t.Fatalf("RuntimeDir = %v, want ErrUnsafeDir", err)
		}
	})
	if _, err := RuntimeDir(nil); err == nil {
		t.Error("RuntimeDir(nil) succeeded")
	}
}

func mkdirMode(t *testing.T, dir string, mode os.FileMode) {
	t.Helper()
	if err := os.Mkdir(dir, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil { // past the umask
		t.Fatal(err)
	}
}

func checkMode(t *testing.T, dir string) {
	t.Helper()
	fi, err := os.Lstat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Errorf("%s: mode %v, want a directory with 0700", dir, fi.Mode())
	}
}

func TestRegistryDir(t *testing.T) {
	tests := []struct {
		name string
		xdg  func(t *testing.T) string
		want func(xdg, tmp string) string
	}{
		{"xdg", func(t *testing.T) string { return t.TempDir() },
			func(xdg, _ string) string { return filepath.Join(xdg, "ukdev", "vms") }},
		{"temp fallback", func(*testing.T) string { return "" },
			func(_, tmp string) string { return filepath.Join(tmp, "ukdev-"+strconv.Itoa(os.Getuid()), "vms") }},
		{"relative xdg ignored", func(*testing.T) string { return "run" },
			func(_, tmp string) string { return filepath.Join(tmp, "ukdev-"+strconv.Itoa(os.Getuid()), "vms") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			xdg, tmp := tt.xdg(t), t.TempDir()
			t.Setenv("XDG_RUNTIME_DIR", xdg)
			t.Setenv("TMPDIR", tmp)
			want := tt.want(xdg, tmp)
			for range 2 { // a second call finds the directory ready
				got, err := RegistryDir()
				if err != nil || got != want {
					t.Fatalf("RegistryDir = %q, %v; want %q", got, err, want)
				}
			}
			checkMode(t, filepath.Dir(want))
			checkMode(t, want)
		})
	}
	t.Run("unsafe", func(t *testing.T) {
		xdg := t.TempDir()
		t.Setenv("XDG_RUNTIME_DIR", xdg)
		mkdirMode(t, filepath.Join(xdg, "ukdev"), 0o700)
		mkdirMode(t, filepath.Join(xdg, "ukdev", "vms"), 0o755)
		if _, err := RegistryDir(); !errors.Is(err, ErrUnsafeDir) {
			t.Fatalf("RegistryDir on a world-readable dir: %v, want ErrUnsafeDir", err)
		}
	})
}
