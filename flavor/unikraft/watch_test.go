package unikraft

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ukdev/ukdev/symbols"
)

func TestSuggestWatches(t *testing.T) {
	app := "volatile unsigned ticks;\nvoid _start(void) { for (;;) ticks++; }\n"
	tests := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"with allocator statistics", map[string]string{
			".unikraft/unikraft/lib/ukalloc/include/uk/alloc.h": "struct uk_alloc_stats { unsigned long cur_mem_use, nb_allocs; };\nextern struct uk_alloc_stats _uk_alloc_stats_global;\n",
			".unikraft/unikraft/lib/ukalloc/stats.c":            "#include \"include/uk/alloc.h\"\nstruct uk_alloc_stats _uk_alloc_stats_global;\nint uk_alloc_other;\n",
			"main.c":                                            app,
		}, []string{"_uk_alloc_stats_global", "ticks"}},
		{"without", map[string]string{"main.c": app}, []string{"ticks"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := (&Kernel{}).SuggestWatches(buildKernel(t, tt.files))
			if !slices.Equal(got, tt.want) {
				t.Errorf("SuggestWatches = %v, want %v", got, tt.want)
			}
		})
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
