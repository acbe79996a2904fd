package nanos

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"text/template"

	"github.com/ukdev/ukdev/guestexit"
	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/symbols"
)

// buildNoFramePointers compiles testdata/nanos-nofp.c with gcc -g -O1 at
// fixed addresses (no PIE, like a static program on Nanos), runs it and
// returns the ELF and the return addresses it printed: inner's (into
// outer) and outer's (into main).
func buildNoFramePointers(t *testing.T) (elf, src string, retInner, retOuter uint64) {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skipf("gcc not installed: %v", err)
	}
	dir := t.TempDir()
	src = filepath.Join(dir, "crash.c")
	b, err := os.ReadFile(filepath.Join("testdata", "nanos-nofp.c"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(src, b, 0o644); err != nil {
		t.Fatal(err)
	}
	elf = filepath.Join(dir, "crash")
	if out, err := exec.Command("gcc", "-g", "-O1", "-fomit-frame-pointer", "-no-pie", "-o", elf, src).CombinedOutput(); err != nil {
		t.Skipf("gcc cannot build a non-PIE program here: %v\n%s", err, out)
	}
	out, err := exec.Command(elf).Output()
	if err != nil {
		t.Fatalf("%s: %v", elf, err)
	}
	for _, l := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(l, "inner returns to "):
			retInner = scanHex(t, l)
		case strings.HasPrefix(l, "outer returns to "):
			retOuter = scanHex(t, l)
		}
	}
	if retInner == 0 || retOuter == 0 {
		t.Fatalf("the program printed no return addresses: %q", out)
	}
	return elf, src, retInner, retOuter
}

func scanHex(t *testing.T, l string) uint64 {
	t.Helper()
	var p uint64
	if _, err := fmt.Sscanf(l[strings.LastIndex(l, " ")+1:], "0x%x", &p); err != nil {
		t.Fatalf("%q: %v", l, err)
	}
	return p
}

// srcLine returns the 1-based number of the line of file containing s.
func srcLine(t *testing.T, file, s string) int {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if strings.Contains(sc.Text(), s) {
			return n
		}
	}
	t.Fatalf("%s: no line contains %q", file, s)
	return 0
}

func TestExplainStackWithoutFramePointers(t *testing.T) {
	elf, src, retInner, retOuter := buildNoFramePointers(t)
	syms, err := symbols.Load(elf)
	if err != nil {
		t.Fatal(err)
	}
	inner, _ := syms.Lookup("inner")
	outer, _ := syms.Lookup("outer")
	main, _ := syms.Lookup("main")
	if inner.Size == 0 || outer.Size == 0 || main.Size == 0 {
		t.Fatalf("symbols inner %+v outer %+v main %+v", inner, outer, main)
	}
	tmpl := template.Must(template.New("nanos-nofp.tmpl").Funcs(template.FuncMap{
		"hex": func(v uint64) string { return fmt.Sprintf("%016x", v) },
	}).ParseFiles(filepath.Join("testdata", "nanos-nofp.tmpl")))
	var sb strings.Builder
	rip := inner.Addr + 4
	if err := tmpl.Execute(&sb, map[string]uint64{"RIP": rip, "RetInner": retInner, "RetOuter": retOuter, "Main": main.Addr,
		// An address in main's code that follows no call: a stale
		// pointer, not a return address.
		"NoCall": main.Addr + 4}); err != nil {
		t.Fatal(err)
	}
	console := strings.Split(strings.TrimRight(sb.String(), "\n"), "\n")

	// With a frame trace, the stack's words are not needed.
	withTrace := strings.Replace(sb.String(), "frame trace:\n", fmt.Sprintf("frame trace:\n00007fffffffebb8:   %#x\n", retOuter), 1)

	exit := guestexit.Exit{Reason: guestexit.ReasonExit, Code: 11, HasCode: true}
	tests := []struct {
		name    string
		console []string
		img     image.Image
		frames  []string // each frame's function+offset and file:line
		detail  string
	}{
		{
			name: "with the program's symbols and DWARF",
			img:  image.Image{Symbols: elf},
			frames: []string{
				fmt.Sprintf("inner+0x4 (%s:%d)", src, 0), // the line is checked apart
				fmt.Sprintf("outer+%#x (%s:%d)", retInner-outer.Addr, src, srcLine(t, src, "/* call inner */")),
				fmt.Sprintf("main+%#x (%s:%d)", retOuter-main.Addr, src, srcLine(t, src, "/* call outer */")),
			},
			detail: "SIGSEGV at fault address 0x0 in inner+0x4 (" + src + ":",
		},
		{
			name:   "without symbols",
			frames: []string{fmt.Sprintf("%#x", rip)},
			detail: "SIGSEGV at fault address 0x0",
		},
		{
			name:    "a frame trace",
			console: strings.Split(withTrace, "\n"),
			img:     image.Image{Symbols: elf},
			frames: []string{
				fmt.Sprintf("inner+0x4 (%s:%d)", src, 0),
				fmt.Sprintf("main+%#x (%s:%d)", retOuter-main.Addr, src, srcLine(t, src, "/* call outer */")),
			},
			detail: "SIGSEGV at fault address 0x0 in inner+0x4 (" + src + ":",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := console
			if tt.console != nil {
				in = tt.console
			}
			e, c := (&Kernel{}).Explain(exit, in, tt.img)
			if c == nil {
				t.Fatal("no crash")
			}
			var got []string
			for _, f := range c.Frames {
				got = append(got, f.String())
			}
			if len(got) != len(tt.frames) {
				t.Fatalf("frames = %q, want %q", got, tt.frames)
			}
			for i := range got {
				want := tt.frames[i]
				if i == 0 && c.Frames[0].Line != 0 {
					// The faulting instruction's line is the compiler's
					// choice; it must be in inner's body.
					l := c.Frames[0].Line
					if l < srcLine(t, src, "int inner(") || l > srcLine(t, src, "return n->next->value") {
						t.Errorf("RIP line %d outside inner", l)
					}
					want = strings.Replace(want, ":0)", fmt.Sprintf(":%d)", l), 1)
				}
				if got[i] != want {
					t.Errorf("frame %d = %q, want %q", i, got[i], want)
				}
			}
			if e.Reason != guestexit.ReasonCrash || !strings.HasPrefix(e.Detail, tt.detail) {
				t.Errorf("exit = %+v, want a crash %q...", e, tt.detail)
			}
		})
	}
}
