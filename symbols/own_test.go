package symbols

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// ownTree is a program in app/ linked with a kernel library under
// .unikraft/ (its statistics declared extern in a header and defined in
// a .c file, as Unikraft's allocator statistics are) and a C library
// under lib-musl/.
var ownTree = map[string]string{
	".unikraft/unikraft/lib/ukalloc/include/stats.h": "struct alloc_stats { unsigned long cur, max; };\nextern struct alloc_stats alloc_stats_global;\n",
	".unikraft/unikraft/lib/ukalloc/stats.c":         "#include \"include/stats.h\"\nstruct alloc_stats alloc_stats_global;\nchar lib_flag;\n",
	"lib-musl/src/errno.c":                           "int errno_value;\n",
	"app/main.c": `volatile unsigned ticks;
struct stats { unsigned a, b, c, d; } stats;
static int own_static;
void _start(void) { for (;;) { ticks++; own_static++; } }
`,
}

// buildTree writes files under a temporary directory and links the .c
// ones into one ELF with gcc -g, each compiled by its absolute path.
func buildTree(t *testing.T, files map[string]string) string {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not installed")
	}
	dir := t.TempDir()
	args := []string{"-g", "-O0", "-nostdlib", "-static", "-no-pie", "-o", filepath.Join(dir, "k.elf")}
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if filepath.Ext(p) == ".c" {
			args = append(args, p)
		}
	}
	cmd := exec.Command(gcc, args...)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, b)
	}
	return filepath.Join(dir, "k.elf")
}

func TestRankDataOwnFirst(t *testing.T) {
	tab, err := Load(buildTree(t, ownTree))
	if err != nil {
		t.Fatal(err)
	}
	origins, err := tab.Origins()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Origin{"ticks": OriginOwn, "stats": OriginOwn, "own_static": OriginOwn,
		"alloc_stats_global": OriginLibrary, "lib_flag": OriginLibrary, "errno_value": OriginLibrary}
	for name, o := range want {
		s, ok := tab.Lookup(name)
		if !ok {
			t.Fatalf("no symbol %s", name)
		}
		if got, ok := origins[s.Addr]; !ok || got != o {
			t.Errorf("origin of %s = %v (known %v), want %v", name, got, ok, o)
		}
	}
	var ranked []string
	for _, s := range tab.RankData(origins) {
		ranked = append(ranked, s.Name)
	}
	// Own globals (smaller first), the own static, then the libraries'.
	wantRank := []string{"ticks", "stats", "own_static", "lib_flag", "errno_value", "alloc_stats_global"}
	if len(ranked) != len(wantRank) {
		t.Fatalf("RankData = %v, want %v", ranked, wantRank)
	}
	for i := range ranked {
		if ranked[i] != wantRank[i] {
			t.Fatalf("RankData = %v, want %v", ranked, wantRank)
		}
	}
	var own []string
	for _, s := range tab.OwnGlobals(origins) {
		own = append(own, s.Name)
	}
	if len(own) != 2 || own[0] != "ticks" || own[1] != "stats" {
		t.Errorf("OwnGlobals = %v, want [ticks stats]", own)
	}
}

// Without DWARF nothing is known, and the order is DataObjects'.
func TestOriginsWithoutDWARF(t *testing.T) {
	tab, err := Load(buildELF(t, true))
	if err != nil {
		t.Fatal(err)
	}
	origins, err := tab.Origins()
	if err != nil || len(origins) != 0 {
		t.Fatalf("Origins = %v, %v; want empty", origins, err)
	}
	if got, want := len(tab.RankData(origins)), len(tab.DataObjects(0)); got != want {
		t.Errorf("RankData has %d symbols, DataObjects %d", got, want)
	}
	if own := tab.OwnGlobals(origins); len(own) != 0 {
		t.Errorf("OwnGlobals without DWARF = %v", own)
	}
}

func TestUnitOrigin(t *testing.T) {
	tests := []struct {
		name, dir string
		lang      int64
		want      Origin
	}{
		{"main.c", "/home/me/hello", 0x0c, OriginOwn},
		{"/home/me/hello/src/x.c", "/elsewhere", 0x1d, OriginOwn},
		{"../../usr/src/libc/x.c", "/usr/lib", 0x0c, OriginLibrary},
		{"/usr/src/debug/glibc/errno.c", "", 0x0c, OriginLibrary},
		{"/home/me/app/.unikraft/build/libukalloc/stats.c", "", 0x0c, OriginLibrary},
		{"/home/me/unikraft/lib/ukalloc/stats.c", "", 0x0c, OriginLibrary},
		{"/home/me/unikraft/apps/hello/main.c", "", 0x0c, OriginOwn},
		{"/home/me/libs/lib-lwip/core.c", "", 0x0c, OriginLibrary},
		{"/home/me/src/musl/errno.c", "", 0x0c, OriginLibrary},
		{"x.c", "", 0x0c, OriginUnknown},
		{"<artificial>", "/home/me", 0x0c, OriginUnknown},
		{"main", ".", dwLangGo, OriginOwn},
		{"runtime", ".", dwLangGo, OriginLibrary},
		{"internal/abi", ".", dwLangGo, OriginLibrary},
		{"github.com/me/app/store", ".", dwLangGo, OriginUnknown},
	}
	for _, tt := range tests {
		if got := unitOrigin(tt.name, tt.dir, tt.lang); got != tt.want {
			t.Errorf("unitOrigin(%q, %q, %#x) = %v, want %v", tt.name, tt.dir, tt.lang, got, tt.want)
		}
	}
}
