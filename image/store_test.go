package image

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ukdev/ukdev/image/imagetest"
)

// buildOutput writes the named files with distinct contents into a fresh
// directory standing in for a project's build output, and returns their paths.
func buildOutput(t *testing.T, names ...string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	paths := map[string]string{}
	for _, n := range names {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, []byte("contents of "+n), 0o644); err != nil {
			t.Fatal(err)
		}
		paths[n] = p
	}
	return paths
}

func TestStoreCopy(t *testing.T) {
	tests := []struct {
		name string
		// artifacts names the build output files; "" leaves a field empty
		// and "missing" names a file that does not exist.
		kernel, initrd, symbols string
		wantSeparateSymbols     bool
		wantMissing             bool // errors.Is ErrMissingArtifact
		wantErr                 bool
	}{
		{name: "kernel only", kernel: "kernel.elf"},
		{name: "kernel and initrd", kernel: "kernel.elf", initrd: "initrd.cpio"},
		{name: "separate symbols", kernel: "kernel.elf", symbols: "kernel.dbg", wantSeparateSymbols: true},
		{name: "symbols are the kernel", kernel: "kernel.elf", symbols: "kernel.elf"},
		{name: "everything", kernel: "kernel.elf", initrd: "initrd.cpio", symbols: "kernel.dbg", wantSeparateSymbols: true},
		{name: "missing kernel", kernel: "missing", wantMissing: true, wantErr: true},
		{name: "missing initrd", kernel: "kernel.elf", initrd: "missing", wantMissing: true, wantErr: true},
		{name: "missing symbols", kernel: "kernel.elf", symbols: "missing", wantMissing: true, wantErr: true},
		{name: "no kernel configured", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var names []string
			for _, n := range []string{tt.kernel, tt.initrd, tt.symbols} {
				if n != "" && n != "missing" {
					names = append(names, n)
				}
			}
			out := buildOutput(t, names...)
			path := func(n string) string {
				if n == "missing" {
					return filepath.Join(t.TempDir(), "never-built")
				}
				return out[n]
			}
			a := Artifacts{Kernel: path(tt.kernel), Initrd: path(tt.initrd), Symbols: path(tt.symbols), Cmdline: "console=ttyS0 -- run"}
			s := &Store{Dir: filepath.Join(t.TempDir(), "images"), Keep: 2}

			img, err := s.Copy(t.Context(), 7, a)
			if errors.Is(err, ErrMissingArtifact) != tt.wantMissing {
				t.Errorf("errors.Is(%v, ErrMissingArtifact) = %v, want %v", err, !tt.wantMissing, tt.wantMissing)
			}
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Copy = %+v, want an error", img)
				}
				return
			}
			if err != nil {
				t.Fatalf("Copy: %v", err)
			}

			if img.Build != 7 || img.Cmdline != a.Cmdline {
				t.Errorf("Copy = build %d cmdline %q, want 7 and %q", img.Build, img.Cmdline, a.Cmdline)
			}
			if got, want := filepath.Dir(img.Kernel), filepath.Join(s.Dir, "build-000007"); got != want {
				t.Errorf("kernel copied into %s, want %s", got, want)
			}
			imagetest.AssertCopy(t, s.Dir, img.Kernel, a.Kernel)
			if a.Initrd == "" {
				if img.Initrd != "" {
					t.Errorf("Initrd = %q, want empty", img.Initrd)
				}
			} else {
				imagetest.AssertCopy(t, s.Dir, img.Initrd, a.Initrd)
			}
			if tt.wantSeparateSymbols {
				if img.Symbols == img.Kernel {
					t.Errorf("Symbols = the kernel copy, want a separate copy of %s", a.Symbols)
				}
				imagetest.AssertCopy(t, s.Dir, img.Symbols, a.Symbols)
			} else if img.Symbols != img.Kernel {
				t.Errorf("Symbols = %q, want the kernel copy %q", img.Symbols, img.Kernel)
			}
			// Boot settings are the flavor's to fill in.
			if img.Machine != "" || img.Protocols != 0 || img.DebugExit || img.PVPanic {
				t.Errorf("Copy filled in boot settings: %+v", img)
			}
		})
	}
}

func TestStorePrune(t *testing.T) {
	type copyCall struct {
		build int
		inUse []int
	}
	seq := func(from, to int) []copyCall {
		var calls []copyCall
		for b := from; b <= to; b++ {
			calls = append(calls, copyCall{build: b})
		}
		return calls
	}
	tests := []struct {
		name  string
		keep  int
		calls []copyCall
		want  []int
	}{
		{name: "keep 2 of 5", keep: 2, calls: seq(1, 5), want: []int{4, 5}},
		{name: "keep 3 of 2", keep: 3, calls: seq(1, 2), want: []int{1, 2}},
		{name: "keep 0 means 1", keep: 0, calls: seq(1, 3), want: []int{3}},
		{name: "negative keep means 1", keep: -4, calls: seq(1, 3), want: []int{3}},
		{name: "in-use build survives", keep: 2,
			calls: []copyCall{{1, nil}, {2, []int{1}}, {3, []int{1}}, {4, []int{1}}, {5, []int{1}}},
			want:  []int{1, 4, 5}},
		{name: "several in-use builds survive", keep: 1,
			calls: []copyCall{{1, nil}, {2, nil}, {3, []int{2}}, {4, []int{2, 3}}, {5, []int{2, 3}}},
			want:  []int{2, 3, 5}},
		{name: "a build no longer in use goes", keep: 2,
			calls: []copyCall{{1, nil}, {2, []int{1}}, {3, []int{1}}, {4, nil}},
			want:  []int{3, 4}},
		{name: "in-use build that is among the newest", keep: 2,
			calls: append(seq(1, 4), copyCall{build: 5, inUse: []int{4}}), want: []int{4, 5}},
		{name: "in-use build not in the store", keep: 1,
			calls: append(seq(1, 2), copyCall{build: 3, inUse: []int{99}}), want: []int{3}},
		{name: "an older build number copied again survives", keep: 1,
			calls: []copyCall{{build: 5}, {build: 3}}, want: []int{3, 5}},
		{name: "the running build is kept while others go", keep: 1,
			calls: []copyCall{{build: 1}, {build: 2, inUse: []int{1}}, {build: 3, inUse: []int{1}}, {build: 4, inUse: []int{3}}},
			want:  []int{3, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := buildOutput(t, "kernel.elf", "initrd", "kernel.dbg")
			a := Artifacts{Kernel: out["kernel.elf"], Initrd: out["initrd"], Symbols: out["kernel.dbg"]}
			s := &Store{Dir: t.TempDir(), Keep: tt.keep}
			// Files the store does not own are left alone.
			for _, name := range []string{"build-notes", "scratch"} {
				if err := os.Mkdir(filepath.Join(s.Dir, name), 0o700); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(s.Dir, "build-000000.txt"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			for _, c := range tt.calls {
				if _, err := s.Copy(t.Context(), c.build, a, c.inUse...); err != nil {
					t.Fatalf("Copy(%d, inUse %v): %v", c.build, c.inUse, err)
				}
			}
			if got := imagetest.StoredBuilds(t, s.Dir); !slices.Equal(got, tt.want) {
				t.Errorf("builds in the store = %v, want %v", got, tt.want)
			}
			for _, name := range []string{"build-notes", "scratch", "build-000000.txt"} {
				if _, err := os.Stat(filepath.Join(s.Dir, name)); err != nil {
					t.Errorf("pruning touched %s: %v", name, err)
				}
			}
		})
	}
}

func TestStoreCopyReplacesBuild(t *testing.T) {
	out := buildOutput(t, "first.elf", "second.elf", "initrd")
	s := &Store{Dir: t.TempDir(), Keep: 3}
	first, err := s.Copy(t.Context(), 4, Artifacts{Kernel: out["first.elf"], Initrd: out["initrd"]})
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.Copy(t.Context(), 4, Artifacts{Kernel: out["second.elf"]})
	if err != nil {
		t.Fatalf("copying build 4 again: %v", err)
	}
	if second.Kernel != first.Kernel {
		t.Errorf("second copy of build 4 at %s, first at %s", second.Kernel, first.Kernel)
	}
	imagetest.AssertCopy(t, s.Dir, second.Kernel, out["second.elf"])
	if _, err := os.Stat(first.Initrd); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the first copy's initrd is still there (stat: %v)", err)
	}
	if got := imagetest.StoredBuilds(t, s.Dir); !slices.Equal(got, []int{4}) {
		t.Errorf("builds in the store = %v, want [4]", got)
	}
}

func TestStoreCopyKeepsCallersSlice(t *testing.T) {
	out := buildOutput(t, "kernel.elf")
	s := &Store{Dir: t.TempDir(), Keep: 1}
	backing := []int{1, 2, 42}
	if _, err := s.Copy(t.Context(), 3, Artifacts{Kernel: out["kernel.elf"]}, backing[:1]...); err != nil {
		t.Fatal(err)
	}
	if want := []int{1, 2, 42}; !slices.Equal(backing, want) {
		t.Errorf("Copy wrote into the caller's inUse array: %v, want %v", backing, want)
	}
}

func TestStoreCopyBuildDirName(t *testing.T) {
	out := buildOutput(t, "kernel.elf")
	for _, build := range []int{0, 1, 123456, 1234567} {
		s := &Store{Dir: t.TempDir(), Keep: 1}
		img, err := s.Copy(t.Context(), build, Artifacts{Kernel: out["kernel.elf"]})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := filepath.Base(filepath.Dir(img.Kernel)), fmt.Sprintf("build-%06d", build); got != want {
			t.Errorf("build %d copied into %s, want %s", build, got, want)
		}
	}
}
