package elf

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ukdev/ukdev/symbols"
)

func TestSuggestWatches(t *testing.T) {
	tab := buildKernel(t, map[string]string{
		"libc/lib-musl/errno.c": "int h_errno;\nint opterr;\n",
		"app/main.c":            "volatile unsigned ticks;\nstruct stats { unsigned a, b; } stats;\nstatic int quiet;\nvoid _start(void) { for (;;) { ticks++; quiet++; } }\n",
	})
	got := Kernel{}.SuggestWatches(tab)
	if want := []string{"ticks", "stats"}; !slices.Equal(got, want) {
		t.Errorf("SuggestWatches = %v, want %v (own globals, no library ones, no statics)", got, want)
	}
}

// buildKernel writes files under a temporary directory and links the .c
// ones into one freestanding ELF with gcc -g.
func buildKernel(t *testing.T, files map[string]string) *symbols.Table {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not installed")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "k.elf")
	args := []string{"-g", "-O0", "-nostdlib", "-static", "-no-pie", "-o", out}
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, p)
	}
	if b, err := exec.Command(gcc, args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, b)
	}
	tab, err := symbols.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}
