package symbols

import (
	"encoding/binary"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// goShapesSource has package variables of the Go shapes the decoder
// knows, all initialised statically (so the ELF's data holds them).
const goShapesSource = `package main

import (
	"fmt"
	"os"
)

type point struct{ X, Y int32 }

func (p point) String() string { return "point" }

type item struct {
	Name string
	N    int
}

var (
	greeting             = "hello, world"
	empty                string
	nums                 = []int{1, 2, 3}
	items                = []item{{"a", 1}, {"bb", 2}}
	none                 []int
	anyv      any          = 42
	stringer  fmt.Stringer = point{3, 4}
	pstringer fmt.Stringer = &point{5, 6}
	nilerr    error
	count     int64 = -7
	ratio           = 1.5
	ready           = true
	table           = [3]uint16{10, 20, 30}
)

func main() {
	fmt.Println(greeting, empty, nums, items, none, anyv, stringer, pstringer, nilerr, count, ratio, ready, table)
	os.Exit(0)
}
`

// buildGo builds goShapesSource with the go command, skipping the test
// without one.
func buildGo(t *testing.T) string {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not installed")
	}
	dir := t.TempDir()
	files := map[string]string{"main.go": goShapesSource, "go.mod": "module example.com/shapes\n\ngo 1.22\n"}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "shapes")
	cmd := exec.Command(goCmd, "build", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOTOOLCHAIN=local", "GOFLAGS=")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}

func TestDecodeGo(t *testing.T) {
	path := buildGo(t)
	tab, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		wantType   string
		wantKind   ValueKind
		wantString string
		wantJSON   string
	}{
		{"main.greeting", "string", KindString, `"hello, world"`, `"hello, world"`},
		{"main.empty", "string", KindString, `""`, `""`},
		{"main.nums", "[]int", KindSlice, "[1, 2, 3]", "[1,2,3]"},
		{"main.items", "[]main.item", KindSlice, `[{Name: "a", N: 1}, {Name: "bb", N: 2}]`, `[{"N":1,"Name":"a"},{"N":2,"Name":"bb"}]`},
		{"main.none", "[]int", KindSlice, "[]", "[]"},
		{"main.anyv", "interface {}", KindInterface, "int(42)", "42"},
		{"main.stringer", "fmt.Stringer", KindInterface, "main.point({X: 3, Y: 4})", `{"X":3,"Y":4}`},
		{"main.nilerr", "error", KindInterface, "nil", "null"},
		{"main.count", "int64", KindInt, "-7", "-7"},
		{"main.ratio", "float64", KindFloat, "1.5", "1.5"},
		{"main.ready", "bool", KindBool, "true", "true"},
		{"main.table", "[3]uint16", KindArray, "[10, 20, 30]", "[10,20,30]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, val := readVariable(t, tab, path, tt.name)
			if v.Type != tt.wantType || val.Type != tt.wantType || val.Kind != tt.wantKind || v.Unit != "main" {
				t.Errorf("type %q / %q kind %v unit %q, want %q %v main", v.Type, val.Type, val.Kind, v.Unit, tt.wantType, tt.wantKind)
			}
			if got := val.String(); got != tt.wantString {
				t.Errorf("String() = %s, want %s", got, tt.wantString)
			}
			b, err := json.Marshal(val.JSON())
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.wantJSON {
				t.Errorf("JSON() = %s, want %s", b, tt.wantJSON)
			}
		})
	}

	// A pointer-shaped dynamic value is the data word itself: no read.
	v, err := tab.Variable("main.pstringer")
	if err != nil {
		t.Fatal(err)
	}
	val := tab.Decode(v, elfMemory(t, path, v.Addr, v.Size))
	if val.PointsTo != "*main.point" || len(val.Elems) != 1 || val.Elems[0].Kind != KindPointer || val.Elems[0].Pointer != val.Pointer {
		t.Errorf("pstringer = %+v", val)
	}
	if _, _, ok := tab.Follow(val); ok {
		t.Error("Follow(pstringer) asks for a read")
	}
	if !strings.HasPrefix(val.String(), "*main.point(0x") {
		t.Errorf("pstringer String() = %s", val.String())
	}

	// A dynamic type the DWARF lacks is named by its descriptor's
	// address: the interface is not nil.
	a, _ := tab.Variable("main.anyv")
	unknown := tab.Decode(a, append(binary.LittleEndian.AppendUint64(nil, 0x10), make([]byte, 8)...))
	if got := unknown.String(); got != "0x10(0x0)" {
		t.Errorf("interface of an unknown type = %s, want 0x10(0x0)", got)
	}

	// Before Complete, a string says where its bytes are.
	g, _ := tab.Variable("main.greeting")
	gv := tab.Decode(g, elfMemory(t, path, g.Addr, g.Size))
	addr, size, ok := tab.Follow(gv)
	if !ok || addr != gv.Pointer || size != 12 || gv.Len != 12 {
		t.Errorf("Follow(greeting) = %#x %d %v, value %+v", addr, size, ok, gv)
	}
	if want := "len 12 at " + pointerString(gv.Pointer, gv.PointsTo); gv.String() != want {
		t.Errorf("unread greeting String() = %s, want %s", gv.String(), want)
	}
}

// TestDecodeAnyBytes decodes every data object of a C and a Go program
// from arbitrary bytes, as a guest's memory may hold anything: no panic,
// a bounded Follow/Complete loop, and JSON that encodes.
func TestDecodeAnyBytes(t *testing.T) {
	tests := []struct {
		name  string
		build func(*testing.T) string
	}{
		{"c", func(t *testing.T) string { return buildShapes(t, "-O0") }},
		{"go", buildGo},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab, err := Load(tt.build(t))
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			noise := func(n uint64) []byte {
				b := make([]byte, min(n, 1<<16))
				for i := range b {
					b[i] = byte(rng.Uint32())
				}
				return b
			}
			objs := tab.DataObjects(0)
			for _, s := range objs {
				v, err := tab.Variable(s.Name)
				if err != nil {
					t.Fatal(err)
				}
				for _, size := range []uint64{s.Size, s.Size / 2, 0} {
					val := tab.Decode(v, noise(size))
					rounds := 0
					for ; rounds < 10000; rounds++ {
						_, n, ok := tab.Follow(val)
						if !ok {
							break
						}
						if n > maxFollowRead {
							t.Fatalf("%s: Follow asks for %d bytes", s.Name, n)
						}
						tab.Complete(&val, noise(n))
					}
					if rounds == 10000 {
						t.Fatalf("%s: Follow never ends", s.Name)
					}
					if _, err := json.Marshal(val.JSON()); err != nil {
						t.Errorf("%s: JSON: %v", s.Name, err)
					}
					_ = val.String()
				}
			}
			if len(objs) < 10 {
				t.Errorf("only %d data objects", len(objs))
			}
		})
	}
}
