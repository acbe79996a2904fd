package nanos

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ukdev/ukdev/symbols"
)

// The Go runtime's names come first; a C file stands in for the
// runtime here, its variables named as Go names them.
func TestSuggestWatches(t *testing.T) {
	tab := buildKernel(t, map[string]string{
		"main.c": "unsigned long allglen __asm__(\"runtime.allglen\");\n" +
			"struct { unsigned long heapLive; } gc __asm__(\"runtime.gcController\");\n" +
			"int requests;\nvoid _start(void) { for (;;) requests++; }\n",
	})
	got := (&Kernel{}).SuggestWatches(tab)
	if want := []string{"runtime.gcController", "runtime.allglen", "requests"}; !slices.Equal(got, want) {
		t.Errorf("SuggestWatches = %v, want %v", got, want)
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
