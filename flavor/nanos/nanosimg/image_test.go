package nanosimg

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// hostFile writes data to a new file in dir and returns its path.
func hostFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func pattern(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// fakeBootImg is shaped like ops' boot.img: an MBR whose filesystem region
// entry gives the loader size, then the loader.
func fakeBootImg(t testing.TB, dir string) (string, []byte) {
	b := pattern(48640, 7)
	clear(b[434:510])
	binary.LittleEndian.PutUint64(b[434:], 48640-512)
	binary.LittleEndian.PutUint32(b[442:], 12)
	b[510], b[511] = 0x55, 0xaa
	return hostFile(t, dir, "boot.img", b), b
}

// image is a written image parsed back.
type image struct {
	raw        []byte
	parts      [4]rpart
	boot, root *rfs
	bootTree   map[string]rentry
	rootTree   map[string]rentry
}

func parseImage(t *testing.T, p string) *image {
	t.Helper()
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	im := &image{raw: raw}
	if im.parts, err = readMBR(raw); err != nil {
		t.Fatal(err)
	}
	for i, p := range im.parts[:2] {
		if !p.active || p.typ != 0x83 {
			t.Fatalf("partition %d: active %v type %#x, want active 0x83", i+1, p.active, p.typ)
		}
	}
	if im.parts[2] != (rpart{}) || im.parts[3] != (rpart{}) {
		t.Fatalf("partitions 3 and 4 not empty: %+v", im.parts[2:])
	}
	b, r := im.parts[0], im.parts[1]
	if b.size != 12<<20 {
		t.Fatalf("boot partition size %d, want 12 MiB", b.size)
	}
	if r.start != b.start+b.size || r.start+r.size != int64(len(raw)) {
		t.Fatalf("root partition %+v does not follow boot %+v to the image end %d", r, b, len(raw))
	}
	if im.boot, err = readTFS(raw[b.start : b.start+b.size]); err != nil {
		t.Fatalf("boot fs: %v", err)
	}
	if im.root, err = readTFS(raw[r.start : r.start+r.size]); err != nil {
		t.Fatalf("root fs: %v", err)
	}
	if im.bootTree, err = im.boot.walk(); err != nil {
		t.Fatalf("boot fs: %v", err)
	}
	if im.rootTree, err = im.root.walk(); err != nil {
		t.Fatalf("root fs: %v", err)
	}
	return im
}

// plain converts a decoded value to the shape the tests compare: string,
// []any, or map as ordered key/value pairs.
func plain(v any) any {
	switch v := v.(type) {
	case *rtuple:
		var kv []any
		for _, k := range v.keys {
			kv = append(kv, k, plain(v.m[k]))
		}
		return kv
	case []any:
		out := []any{}
		for _, x := range v {
			out = append(out, plain(x))
		}
		return out
	}
	return v
}

func plainValue(v Value) any {
	switch v := v.(type) {
	case *Tuple:
		var kv []any
		for _, k := range v.Keys() {
			x, _ := v.Get(k)
			kv = append(kv, k, plainValue(x))
		}
		return kv
	case Vector:
		out := []any{}
		for _, x := range v {
			out = append(out, plainValue(x))
		}
		return out
	case []string:
		out := []any{}
		for _, x := range v {
			out = append(out, x)
		}
		return out
	}
	return v
}

func manifest(env *Tuple) *Tuple {
	root := NewTuple()
	root.Set("program", "/app")
	root.Set("arguments", Vector{"/app", "-port", "8080", "with space", "ünïcødé ☃", "quote\"back\\slash", "new\nline", ""})
	root.Set("environment", env)
	root.Set("debug_exit", "t")
	root.Set("klibs", "bootfs")
	nested := NewTuple()
	nested.Set("server", "10.0.2.2")
	deeper := NewTuple()
	deeper.Set("a", Vector{"x", NewTuple()})
	nested.Set("deeper", deeper)
	root.Set("syslog", nested)
	root.Set("notrace", []string{"futex", "epoll_wait"})
	return root
}

func TestWriteRoundTrip(t *testing.T) {
	dir := t.TempDir()
	bootImg, bootImgBytes := fakeBootImg(t, dir)
	kernel := hostFile(t, dir, "kernel.img", pattern(3<<20+123, 1))
	syslog := hostFile(t, dir, "syslog", pattern(40000, 2))
	radar := hostFile(t, dir, "radar", pattern(511, 3))
	app := hostFile(t, dir, "app", pattern(2<<20+1, 4))
	libc := hostFile(t, dir, "libc.so.6", pattern(512, 5))
	empty := hostFile(t, dir, "empty", nil)

	env := NewTuple()
	env.Set("HOME", "/")
	env.Set("PATH", "/bin:/usr/bin")
	env.Set("WEIRD", "tab\there=\x01\xff")

	bigEnv := NewTuple()
	bigEnv.Set("BIG", strings.Repeat("0123456789abcdef", 50000)) // 800 KB: the log needs a second extension

	tests := []struct {
		name string
		spec Spec
		exts int // log extensions of the root fs
	}{
		{
			name: "direct boot, one file",
			spec: Spec{
				Kernel: kernel,
				Files:  []File{{Path: "/app", Host: app}},
				Root:   manifest(env),
			},
		},
		{
			name: "boot.img, klibs, libs, links, dirs",
			spec: Spec{
				BootImg: bootImg,
				Kernel:  kernel,
				Klibs:   []File{{Host: syslog}, {Path: "radar", Host: radar}},
				Files: []File{
					{Path: "/app", Host: app},
					{Path: "/lib/x86_64-linux-gnu/libc.so.6", Host: libc},
					{Path: "/lib64/ld-linux-x86-64.so.2", Link: "/lib/x86_64-linux-gnu/ld.so"},
					{Path: "/etc/resolv.conf", Data: []byte("nameserver 8.8.8.8\n")},
					{Path: "/etc/passwd", Data: []byte("root:x:0:0:root:/root:/bin/nobash\n")},
					{Path: "/proc/sys/kernel/hostname", Data: []byte("uniboot")},
					{Path: "/empty", Host: empty},
					{Path: "/data/zero", Data: []byte{}},
					{Path: "/odd name/ü ☃ \"q\"", Data: []byte("odd")},
				},
				Dirs:  []string{"/tmp", "/var/log", "/etc"},
				Root:  manifest(env),
				Label: "uniboot",
			},
		},
		{
			name: "manifest spans two log extensions",
			spec: Spec{
				Kernel: kernel,
				Files:  []File{{Path: "/app", Host: app}},
				Root:   manifest(bigEnv),
			},
			exts: 3,
		},
		{
			name: "padded to a minimum size",
			spec: Spec{
				Kernel: kernel,
				Files:  []File{{Path: "/app", Data: []byte("tiny")}},
				Size:   64 << 20,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "disk.raw")
			st, err := Write(out, tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			im := parseImage(t, out)
			wantExts := max(tc.exts, 2)
			if im.root.exts != wantExts || im.boot.exts != 2 {
				t.Errorf("log extensions: root %d, boot %d; want %d and 2", im.root.exts, im.boot.exts, wantExts)
			}
			if st.Bytes != int64(len(im.raw)) {
				t.Errorf("Stats.Bytes = %d, image has %d", st.Bytes, len(im.raw))
			}
			if tc.spec.Size > 0 && int64(len(im.raw)) < tc.spec.Size {
				t.Errorf("image %d bytes, want at least %d", len(im.raw), tc.spec.Size)
			}

			wantKlog := int64(512)
			if tc.spec.BootImg != "" {
				wantKlog = int64(len(bootImgBytes))
				if !bytes.Equal(im.raw[:446], bootImgBytes[:446]) || !bytes.Equal(im.raw[512:wantKlog], bootImgBytes[512:]) {
					t.Error("boot.img not copied to the image start")
				}
			}
			if st.Layout.Klog != wantKlog || im.parts[0].start != wantKlog+KlogSize {
				t.Errorf("klog at %d, boot partition at %d; want klog at %d + 4 KiB", st.Layout.Klog, im.parts[0].start, wantKlog)
			}
			if !bytes.Equal(im.raw[wantKlog:wantKlog+KlogSize], make([]byte, KlogSize)) {
				t.Error("klog area not zero")
			}

			// Boot filesystem: /kernel and /klib/<name>, byte-identical.
			wantBoot := map[string][]byte{"/kernel": mustRead(t, tc.spec.Kernel)}
			for _, k := range tc.spec.Klibs {
				wantBoot["/klib/"+filepath.Base(k.Host)] = mustRead(t, k.Host)
			}
			for p, want := range wantBoot {
				if got, ok := im.bootTree[p]; !ok || !bytes.Equal(got.data, want) {
					t.Errorf("boot fs %s: present %v, equal %v", p, ok, bytes.Equal(got.data, want))
				}
			}
			if len(im.boot.root.keys) != 1 {
				t.Errorf("boot fs root keys %v, want only children", im.boot.root.keys)
			}

			// Root filesystem: every file, link and directory.
			files := 0
			for _, f := range tc.spec.Files {
				got, ok := im.rootTree[f.Path]
				switch {
				case !ok:
					t.Errorf("root fs: %s missing", f.Path)
				case f.Link != "":
					if got.link != f.Link {
						t.Errorf("root fs: %s links to %q, want %q", f.Path, got.link, f.Link)
					}
				default:
					files++
					want := f.Data
					if f.Host != "" {
						want = mustRead(t, f.Host)
					}
					if !bytes.Equal(got.data, want) {
						t.Errorf("root fs: %s differs (%d bytes, want %d)", f.Path, len(got.data), len(want))
					}
				}
				for d := path.Dir(f.Path); d != "/"; d = path.Dir(d) {
					if !im.rootTree[d].dir {
						t.Errorf("root fs: parent %s of %s is not a directory", d, f.Path)
					}
				}
			}
			for _, d := range tc.spec.Dirs {
				if !im.rootTree[d].dir {
					t.Errorf("root fs: %s is not a directory", d)
				}
			}
			if st.Files != files+1+len(tc.spec.Klibs) {
				t.Errorf("Stats.Files = %d, want %d", st.Files, files+1+len(tc.spec.Klibs))
			}
			if im.root.label != tc.spec.Label {
				t.Errorf("label %q, want %q", im.root.label, tc.spec.Label)
			}
			if im.root.uuid == ([16]byte{}) || im.root.uuid == im.boot.uuid {
				t.Errorf("uuids root %x boot %x: want distinct, nonzero", im.root.uuid, im.boot.uuid)
			}

			// Manifest: children first, then the caller's entries in order.
			if im.root.root.keys[0] != "children" {
				t.Errorf("root tuple starts with %q, want children", im.root.root.keys[0])
			}
			got := plain(im.root.root)
			want := []any{"children", plain(im.root.root.m["children"])}
			if tc.spec.Root != nil {
				want = append(want, plainValue(tc.spec.Root).([]any)...)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("root tuple:\n got %q\nwant %q", trim(got), trim(want))
			}
		})
	}
}

func trim(v any) string {
	s := fmt.Sprint(v)
	if len(s) > 600 {
		s = s[:600] + "..."
	}
	return s
}

func mustRead(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestManifestGolden pins the encoded root tuple byte for byte.
func TestManifestGolden(t *testing.T) {
	root := newDir()
	for _, f := range []File{
		{Path: "/app", Data: make([]byte, 1000)},
		{Path: "/etc/resolv.conf", Data: []byte("nameserver 8.8.8.8\n")},
		{Path: "/lib/libc.so.6", Data: make([]byte, 4096)},
		{Path: "/lib/ld.so", Link: "/lib/libc.so.6"},
		{Path: "/empty", Data: nil},
	} {
		src, err := fileSource(f, f.Path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := insert(root, f.Path, &node{src: src, link: f.Link, given: true}); err != nil {
			t.Fatal(err)
		}
	}
	if err := insert(root, "/tmp", &node{kids: map[string]*node{}, given: true}); err != nil {
		t.Fatal(err)
	}
	env := NewTuple()
	env.Set("USER", "root")
	env.Set("ODD", "é\"\n\x00")
	fs, err := layoutTFS(root, manifest(env), [16]byte{}, "")
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "manifest.golden")
	if *update {
		if err := os.WriteFile(golden, fs.manifest, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(fs.manifest, want) {
		t.Errorf("manifest encoding changed:\n got %x\nwant %x", fs.manifest, want)
	}
}

func TestHeaderEncoding(t *testing.T) {
	for _, n := range []uint64{0, 1, 7, 8, 127, 128, 1023, 1024, 1 << 20, 1<<32 + 5, 1<<63 + 1} {
		for _, typ := range []byte{typeBuffer, typeTuple, typeVector, typeString} {
			for _, imm := range []bool{true, false} {
				e := newEncoder()
				e.header(imm, typ, n)
				i := 0
				gimm, gtyp, gn, err := rheader(e.buf, &i)
				if err != nil || gimm != imm || gtyp != typ || gn != n || i != len(e.buf) {
					t.Errorf("header(%v, %d, %d) = %x: read back %v %d %d (%v), %d of %d bytes", imm, typ, n, e.buf, gimm, gtyp, gn, err, i, len(e.buf))
				}
			}
		}
		b := appendVarint(nil, n)
		i := 0
		if got, err := rvarint(b, &i); err != nil || got != n || i != len(b) {
			t.Errorf("varint %d = %x: read back %d (%v)", n, b, got, err)
		}
	}
}

// TestRandomTrees writes random file trees and reads every file back.
func TestRandomTrees(t *testing.T) {
	r := rand.New(rand.NewPCG(42, 42))
	dir := t.TempDir()
	kernel := hostFile(t, dir, "kernel", pattern(100000, 9))
	names := []string{"a", "b", "lib", "x y", "ü", "etc", "bin", "usr", "z.so.1", ".hidden"}
	for iter := range 25 {
		want := map[string][]byte{}
		var files []File
		for range 1 + r.IntN(40) {
			depth := 1 + r.IntN(4)
			var parts []string
			for range depth {
				parts = append(parts, names[r.IntN(len(names))])
			}
			p := "/" + strings.Join(parts, "/")
			conflict := false
			for q := range want {
				if q == p || strings.HasPrefix(q, p+"/") || strings.HasPrefix(p, q+"/") {
					conflict = true
				}
			}
			if conflict {
				continue
			}
			data := pattern(r.IntN(3*512+3), r.Uint64())
			want[p] = data
			if r.IntN(2) == 0 {
				files = append(files, File{Path: p, Data: data})
			} else {
				files = append(files, File{Path: p, Host: hostFile(t, dir, fmt.Sprintf("f%d-%d", iter, len(files)), data)})
			}
		}
		out := filepath.Join(dir, "disk.raw")
		if _, err := Write(out, Spec{Kernel: kernel, Files: files}); err != nil {
			t.Fatalf("iteration %d: %v", iter, err)
		}
		im := parseImage(t, out)
		got := 0
		for p, e := range im.rootTree {
			if e.dir {
				continue
			}
			got++
			if !bytes.Equal(e.data, want[p]) {
				t.Fatalf("iteration %d: %s differs", iter, p)
			}
		}
		if got != len(want) {
			t.Fatalf("iteration %d: %d files read back, want %d", iter, got, len(want))
		}
	}
}

func TestWriteErrors(t *testing.T) {
	dir := t.TempDir()
	kernel := hostFile(t, dir, "kernel", []byte("k"))
	app := hostFile(t, dir, "app", []byte("app"))
	huge := filepath.Join(dir, "huge")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(13 << 20); err != nil { // sparse, larger than the boot fs
		t.Fatal(err)
	}
	f.Close()
	notBoot := hostFile(t, dir, "notboot.img", make([]byte, 1024))
	badRegion, _ := fakeBootImg(t, dir)
	if err := os.WriteFile(badRegion, mustRead(t, badRegion)[:40000], 0o644); err != nil {
		t.Fatal(err)
	}
	withChildren := NewTuple()
	withChildren.Set("children", "x")
	badType := NewTuple()
	badType.Set("n", 3)
	emptyKey := NewTuple()
	emptyKey.Set("", "x")
	loop := NewTuple()
	loop.Set("self", loop)

	tests := []struct {
		name    string
		spec    Spec
		is      error
		mention string // the error must name this
	}{
		{"missing host file", Spec{Kernel: kernel, Files: []File{{Path: "/app", Host: filepath.Join(dir, "nope")}}}, fs.ErrNotExist, filepath.Join(dir, "nope")},
		{"missing kernel", Spec{Kernel: filepath.Join(dir, "nokernel")}, fs.ErrNotExist, "nokernel"},
		{"missing klib", Spec{Kernel: kernel, Klibs: []File{{Host: filepath.Join(dir, "noklib")}}}, fs.ErrNotExist, "noklib"},
		{"no kernel", Spec{}, ErrBadSpec, "kernel"},
		{"relative path", Spec{Kernel: kernel, Files: []File{{Path: "app", Host: app}}}, ErrNotAbsolute, "app"},
		{"unclean path", Spec{Kernel: kernel, Files: []File{{Path: "/a/../app", Host: app}}}, ErrNotAbsolute, "/a/../app"},
		{"root path", Spec{Kernel: kernel, Dirs: []string{"/"}}, ErrNotAbsolute, "/"},
		{"relative dir", Spec{Kernel: kernel, Dirs: []string{"tmp"}}, ErrNotAbsolute, "tmp"},
		{"duplicate file", Spec{Kernel: kernel, Files: []File{{Path: "/app", Host: app}, {Path: "/app", Data: []byte("x")}}}, ErrDuplicatePath, "/app"},
		{"duplicate dir", Spec{Kernel: kernel, Dirs: []string{"/tmp", "/tmp"}}, ErrDuplicatePath, "/tmp"},
		{"duplicate klib", Spec{Kernel: kernel, Klibs: []File{{Path: "k", Host: app}, {Path: "k", Host: app}}}, ErrDuplicatePath, "k"},
		{"file under file", Spec{Kernel: kernel, Files: []File{{Path: "/app", Host: app}, {Path: "/app/x", Host: app}}}, ErrPathConflict, "/app/x"},
		{"dir over file", Spec{Kernel: kernel, Files: []File{{Path: "/app", Host: app}}, Dirs: []string{"/app"}}, ErrPathConflict, "/app"},
		{"file over dir", Spec{Kernel: kernel, Files: []File{{Path: "/lib/x", Host: app}, {Path: "/lib", Host: app}}}, ErrPathConflict, "/lib"},
		{"host is a directory", Spec{Kernel: kernel, Files: []File{{Path: "/d", Host: dir}}}, ErrBadSpec, dir},
		{"host and data", Spec{Kernel: kernel, Files: []File{{Path: "/d", Host: app, Data: []byte("x")}}}, ErrBadSpec, "/d"},
		{"reserved key", Spec{Kernel: kernel, Root: withChildren}, ErrReservedKey, "children"},
		{"bad value type", Spec{Kernel: kernel, Root: badType}, ErrBadValue, "/n"},
		{"empty key", Spec{Kernel: kernel, Root: emptyKey}, ErrBadValue, "empty key"},
		{"self-containing tuple", Spec{Kernel: kernel, Root: loop}, ErrBadValue, "self"},
		{"boot fs full", Spec{Kernel: huge}, ErrBootFull, "boot"},
		{"boot.img without MBR", Spec{BootImg: notBoot, Kernel: kernel}, ErrBadBootImg, "notboot.img"},
		{"boot.img size mismatch", Spec{BootImg: badRegion, Kernel: kernel}, ErrBadBootImg, "boot.img"},
		{"missing boot.img", Spec{BootImg: filepath.Join(dir, "noboot.img"), Kernel: kernel}, fs.ErrNotExist, "noboot.img"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "disk.raw")
			_, err := Write(out, tc.spec)
			if !errors.Is(err, tc.is) {
				t.Fatalf("err = %v, want %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.mention) || !strings.HasPrefix(err.Error(), "nanosimg: ") {
				t.Errorf("error %q should start with nanosimg: and name %q", err, tc.mention)
			}
			entries, _ := os.ReadDir(filepath.Dir(out))
			if len(entries) != 0 {
				t.Errorf("failed write left files: %v", entries)
			}
		})
	}
}

func TestTupleSetKeepsOrder(t *testing.T) {
	tu := NewTuple()
	tu.Set("b", "1")
	tu.Set("a", "2")
	tu.Set("b", "3")
	tu.Set("c", "4")
	tu.Delete("a")
	tu.Delete("missing")
	if got := tu.Keys(); !slices.Equal(got, []string{"b", "c"}) {
		t.Errorf("keys %v", got)
	}
	if v, _ := tu.Get("b"); v != "3" {
		t.Errorf("b = %v", v)
	}
	var zero Tuple
	zero.Set("x", "y")
	if zero.Len() != 1 {
		t.Error("zero Tuple not usable")
	}
}

func setup8MB(tb testing.TB) (Spec, string) {
	dir := tb.TempDir()
	kernel := hostFile(tb, dir, "kernel.img", pattern(5<<20, 11))
	app := hostFile(tb, dir, "app", pattern(8<<20, 12))
	root := NewTuple()
	root.Set("program", "/app")
	root.Set("arguments", Vector{"/app"})
	env := NewTuple()
	env.Set("PORT", "8080")
	root.Set("environment", env)
	root.Set("debug_exit", "t")
	return Spec{
		Kernel: kernel,
		Files: []File{
			{Path: "/app", Host: app},
			{Path: "/etc/resolv.conf", Data: []byte("nameserver 8.8.8.8\n")},
			{Path: "/etc/passwd", Data: []byte("root:x:0:0:root:/root:/bin/nobash\n")},
			{Path: "/proc/sys/kernel/hostname", Data: []byte("uniboot")},
		},
		Root: root,
	}, filepath.Join(dir, "disk.raw")
}

// TestWrite8MB writes the image of an 8 MB program with a 5 MB kernel and
// logs how long it took (no wall-clock assertion: CI machines vary).
func TestWrite8MB(t *testing.T) {
	spec, out := setup8MB(t)
	for i := range 3 {
		st, err := Write(out, spec)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("write %d: %d bytes, %d files in %v", i+1, st.Bytes, st.Files, st.Duration)
	}
	im := parseImage(t, out)
	if !bytes.Equal(im.rootTree["/app"].data, mustRead(t, spec.Files[0].Host)) {
		t.Error("/app differs")
	}
}

func BenchmarkWrite8MB(b *testing.B) {
	spec, out := setup8MB(b)
	b.SetBytes(8 << 20)
	for b.Loop() {
		if _, err := Write(out, spec); err != nil {
			b.Fatal(err)
		}
	}
}
