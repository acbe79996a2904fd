package nanos

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ukdev/ukdev/flavor"
	"github.com/ukdev/ukdev/flavor/nanos/nanosimg"
	"github.com/ukdev/ukdev/flavor/nanos/ops"
	"github.com/ukdev/ukdev/guestexit"
	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/image/imagetest"
)

// nanosRelease writes a fake Nanos release: a kernel.img with or without
// a PVH note, a boot.img when boot is set, and klibs.
func nanosRelease(t *testing.T, pvh, boot bool) ops.Kernel {
	t.Helper()
	dir := t.TempDir()
	k := imagetest.ELF{Class: elf.ELFCLASS64, Load: []byte{0xf4}}
	if pvh {
		k.SegNotes = imagetest.PVHNote(binary.LittleEndian)
	}
	rel := ops.Kernel{Version: "0.1.52", Dir: dir, Kernel: filepath.Join(dir, "kernel.img"), Klibs: filepath.Join(dir, "klibs")}
	must(t, os.WriteFile(rel.Kernel, k.Bytes(), 0o644))
	if boot {
		rel.BootImg = filepath.Join(dir, "boot.img")
		must(t, os.WriteFile(rel.BootImg, make([]byte, 48640), 0o644))
	}
	must(t, os.MkdirAll(rel.Klibs, 0o755))
	for _, name := range []string{"syslog", "radar"} {
		must(t, os.WriteFile(filepath.Join(rel.Klibs, name), []byte(name), 0o644))
	}
	return rel
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// nanosProject writes a project with the files an ops config names.
func nanosProject(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range map[string]string{
		"data.txt":              "data",
		"static/index.html":     "<h1>hi</h1>",
		"static/css/site.css":   "body{}",
		"assets/logo.svg":       "<svg/>",
		"assets/fonts/a.woff":   "font",
		"etc-override/passwd":   "me:x:1:1::/:/bin/nobody\n",
		"static/empty/.keep-me": "",
	} {
		p := filepath.Join(dir, name)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(data), 0o644))
	}
	must(t, os.Remove(filepath.Join(dir, "static/empty/.keep-me")))
	return dir
}

type fakeWriter struct {
	dst   string
	spec  nanosimg.Spec
	calls int
}

func (w *fakeWriter) write(dst string, s nanosimg.Spec) (nanosimg.Stats, error) {
	w.dst, w.spec = dst, s
	w.calls++
	return nanosimg.Stats{Bytes: 42}, os.WriteFile(dst, []byte("image"), 0o644)
}

func guestPaths(files []nanosimg.File) map[string]nanosimg.File {
	m := map[string]nanosimg.File{}
	for _, f := range files {
		m[f.Path] = f
	}
	return m
}

func TestPrepare(t *testing.T) {
	project := nanosProject(t)
	cfg, err := ops.Parse("config.json", []byte(`{
		"Args": ["-v"],
		"Env": {"MODE": "dev", "USER": "app"},
		"Files": ["data.txt"],
		"Dirs": ["static"],
		"MapDirs": {"assets/*": "/srv/assets", "etc-override/passwd": "/etc"},
		"Klibs": ["syslog"],
		"ManifestPassthrough": {"syslog": {"server": "10.0.2.2"}, "futex_trace": true, "expected_exit_code": [0, "3"]},
		"BaseVolumeSz": "64m"
	}`))
	must(t, err)
	prog := imagetest.StaticProgram(t, t.TempDir(), "app")

	tests := []struct {
		name         string
		pvh, bootImg bool
		boot         Boot
		wantMachine  string
		wantKernel   bool
	}{
		{name: "direct", pvh: true, bootImg: true, wantMachine: "microvm", wantKernel: true},
		{name: "disk when asked", pvh: true, bootImg: true, boot: BootDisk, wantMachine: "q35"},
		{name: "disk as the fallback without PVH", pvh: false, bootImg: true, boot: BootDirect, wantMachine: "q35"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rel := nanosRelease(t, tt.pvh, tt.bootImg)
			n, err := New(Options{Config: cfg, Dir: project, Kernel: rel, Boot: tt.boot})
			must(t, err)
			w := &fakeWriter{}
			n.write = w.write
			store := &image.Store{Dir: t.TempDir(), Keep: 2}
			img, err := n.Prepare(t.Context(), store, 7, image.Artifacts{Kernel: prog})
			must(t, err)
			dir := store.BuildDir(7)

			if img.Machine != tt.wantMachine || img.Disk != filepath.Join(dir, "disk.img") || w.dst != img.Disk ||
				!img.DebugExit || !img.Balloon || !img.RNG || img.PVPanic || img.Build != 7 {
				t.Errorf("image = %+v", img)
			}
			if img.Symbols != filepath.Join(dir, "kernel") {
				t.Errorf("Symbols = %q, want the program's copy", img.Symbols)
			}
			if tt.wantKernel {
				if img.Kernel != filepath.Join(dir, "kernel.img") || img.MachineOptions != "rtc=on,ioapic2=off" || !img.Protocols.Has(image.PVH) {
					t.Errorf("direct image = %+v", img)
				}
				if w.spec.BootImg != "" {
					t.Errorf("direct boot writes boot.img %q", w.spec.BootImg)
				}
			} else {
				if img.Kernel != "" || w.spec.BootImg != rel.BootImg {
					t.Errorf("disk image kernel %q, spec boot.img %q", img.Kernel, w.spec.BootImg)
				}
			}
			if fi, err := os.Stat(img.Disk); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("disk %v mode %v, want 0600", err, fi)
			}
			if n.LastStats().Bytes != 42 {
				t.Errorf("LastStats = %+v", n.LastStats())
			}

			s := w.spec
			if s.Kernel != rel.Kernel || s.Size != 64<<20 {
				t.Errorf("spec kernel %q size %d", s.Kernel, s.Size)
			}
			if want := []nanosimg.File{{Path: "syslog", Host: filepath.Join(rel.Klibs, "syslog")}}; !reflect.DeepEqual(s.Klibs, want) {
				t.Errorf("klibs = %+v", s.Klibs)
			}
			files := guestPaths(s.Files)
			wantHosts := map[string]string{
				"/app":                     img.Symbols,
				"/data.txt":                filepath.Join(project, "data.txt"),
				"/static/index.html":       filepath.Join(project, "static/index.html"),
				"/static/css/site.css":     filepath.Join(project, "static/css/site.css"),
				"/srv/assets/logo.svg":     filepath.Join(project, "assets/logo.svg"),
				"/srv/assets/fonts/a.woff": filepath.Join(project, "assets/fonts/a.woff"),
				"/etc/passwd":              filepath.Join(project, "etc-override/passwd"),
			}
			for g, h := range wantHosts {
				if files[g].Host != h {
					t.Errorf("image file %s from %q, want %q", g, files[g].Host, h)
				}
			}
			wantData := map[string]string{
				"/etc/resolv.conf":          "nameserver 10.0.2.3\n",
				"/proc/sys/kernel/hostname": "app\n",
			}
			for g, d := range wantData {
				if string(files[g].Data) != d {
					t.Errorf("image file %s = %q, want %q", g, files[g].Data, d)
				}
			}
			if len(s.Files) != len(wantHosts)+len(wantData) {
				t.Errorf("%d files, want %d: %+v", len(s.Files), len(wantHosts)+len(wantData), s.Files)
			}
			if !reflect.DeepEqual(s.Dirs, []string{"/static/empty"}) {
				t.Errorf("dirs = %q", s.Dirs)
			}

			root := s.Root
			if got, want := root.Keys(), []string{"program", "arguments", "environment", "klibs", "debug_exit",
				"expected_exit_code", "futex_trace", "syslog"}; !reflect.DeepEqual(got, want) {
				t.Errorf("root keys %q, want %q", got, want)
			}
			get := func(k string) nanosimg.Value { v, _ := root.Get(k); return v }
			if get("program") != "/app" || get("klibs") != "bootfs" || get("debug_exit") != "t" || get("futex_trace") != "t" {
				t.Errorf("root values: program %v klibs %v debug_exit %v futex_trace %v", get("program"), get("klibs"), get("debug_exit"), get("futex_trace"))
			}
			if got := get("arguments"); !reflect.DeepEqual(got, []string{"app", "-v"}) {
				t.Errorf("arguments = %#v", got)
			}
			if got := get("expected_exit_code"); !reflect.DeepEqual(got, nanosimg.Vector{"0", "3"}) {
				t.Errorf("expected_exit_code = %#v", got)
			}
			env := get("environment").(*nanosimg.Tuple)
			if !reflect.DeepEqual(env.Keys(), []string{"MODE", "PWD", "USER"}) {
				t.Errorf("environment keys %q", env.Keys())
			}
			if v, _ := env.Get("USER"); v != "app" {
				t.Errorf("USER = %v: the config's Env must win", v)
			}
			syslog := get("syslog").(*nanosimg.Tuple)
			if v, _ := syslog.Get("server"); v != "10.0.2.2" {
				t.Errorf("syslog.server = %v", v)
			}
		})
	}
}

func TestPrepareWritesRealImage(t *testing.T) {
	rel := nanosRelease(t, true, false)
	n, err := New(Options{Kernel: rel})
	must(t, err)
	store := &image.Store{Dir: t.TempDir(), Keep: 1}
	prog := imagetest.StaticProgram(t, t.TempDir(), "hello")
	for build := 1; build <= 2; build++ {
		img, err := n.Prepare(t.Context(), store, build, image.Artifacts{Kernel: prog})
		must(t, err)
		fi, err := os.Stat(img.Disk)
		must(t, err)
		if fi.Size() < nanosimg.BootFSSize || fi.Mode().Perm() != 0o600 {
			t.Errorf("disk %s: %d bytes, mode %v", img.Disk, fi.Size(), fi.Mode())
		}
		if st := n.LastStats(); st.Bytes != fi.Size() || st.Files == 0 {
			t.Errorf("LastStats = %+v", st)
		}
	}
	if builds := imagetest.StoredBuilds(t, store.Dir); !reflect.DeepEqual(builds, []int{2}) {
		t.Errorf("stored builds %v, want [2]", builds)
	}
}

func TestPrepareErrors(t *testing.T) {
	dir := t.TempDir()
	prog := imagetest.StaticProgram(t, dir, "app")
	notELF := imagetest.ShellScript(t, dir, "script")
	elf32 := imagetest.Program32(t, dir, "app32")

	tests := []struct {
		name    string
		pvh     bool
		bootImg bool
		cfg     string
		program string
		is      error
		mention string
	}{
		{name: "missing program", pvh: true, program: filepath.Join(dir, "nope"), is: image.ErrMissingArtifact},
		{name: "not ELF", pvh: true, program: notELF, is: image.ErrNotBootable, mention: "not an ELF program"},
		{name: "32-bit", pvh: true, program: elf32, is: image.ErrNotBootable, mention: "x86-64"},
		{name: "no PVH, no boot.img", program: prog, is: image.ErrNotBootable, mention: "no PVH note"},
		{name: "missing file", pvh: true, program: prog, cfg: `{"Files": ["gone.txt"]}`, is: ErrConfig, mention: "gone.txt"},
		{name: "missing dir", pvh: true, program: prog, cfg: `{"Dirs": ["gone"]}`, is: ErrConfig, mention: "gone"},
		{name: "MapDirs matching nothing", pvh: true, program: prog, cfg: `{"MapDirs": {"gone/*": "/x"}}`, is: ErrConfig, mention: "nothing matches"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ops.Parse("", []byte(guestexit.OrDefault(tt.cfg, "{}")))
			must(t, err)
			n, err := New(Options{Config: cfg, Dir: dir, Kernel: nanosRelease(t, tt.pvh, tt.bootImg)})
			must(t, err)
			n.write = (&fakeWriter{}).write
			_, err = n.Prepare(t.Context(), &image.Store{Dir: t.TempDir()}, 1, image.Artifacts{Kernel: tt.program})
			if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("Prepare = %v, want %v mentioning %q", err, tt.is, tt.mention)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	rel := nanosRelease(t, true, false)
	noKlibs := rel
	noKlibs.Klibs = ""
	tests := []struct {
		name    string
		opts    Options
		is      error
		mention string
	}{
		{"no kernel", Options{}, ops.ErrNoKernel, "ops update"},
		{"kernel missing", Options{Kernel: ops.Kernel{Kernel: "/nonexistent/kernel.img"}}, ops.ErrNoKernel, "/nonexistent/kernel.img"},
		{"disk boot without boot.img", Options{Kernel: rel, Boot: BootDisk}, ErrConfig, "boot.img"},
		{"bad boot", Options{Kernel: rel, Boot: "floppy"}, ErrConfig, "floppy"},
		{"missing klib", Options{Kernel: rel, Config: &ops.Config{Klibs: []string{"syslog", "gcp"}}}, ErrConfig, "gcp not in"},
		{"klibs without a klibs dir", Options{Kernel: noKlibs, Config: &ops.Config{Klibs: []string{"syslog"}}}, ErrConfig, "no klibs directory"},
		{"null passthrough", Options{Kernel: rel, Config: &ops.Config{ManifestPassthrough: map[string]any{"x": nil}}}, ErrConfig, "ManifestPassthrough.x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.opts)
			if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("New = %v, want %v mentioning %q", err, tt.is, tt.mention)
			}
		})
	}
	if _, err := New(Options{Kernel: rel, Config: &ops.Config{Klibs: []string{"gcp"}}}); err == nil ||
		!strings.Contains(err.Error(), "radar, syslog") {
		t.Errorf("missing klib error %v does not list the klibs there are", err)
	}
}

func TestSharedLibraries(t *testing.T) {
	const program = "/bin/true"
	f, err := elf.Open(program)
	if err != nil {
		t.Skipf("no %s: %v", program, err)
	}
	interp, _ := interpreter(f)
	f.Close()
	if interp == "" {
		t.Skipf("%s is static here", program)
	}
	libs, err := sharedLibs(program, nil)
	must(t, err)
	byName := map[string]sharedLib{}
	for _, l := range libs {
		byName[filepath.Base(l.Guest)] = l
		if !filepath.IsAbs(l.Guest) || l.Host != l.Guest {
			t.Errorf("library %+v", l)
		}
	}
	if libs[0].Guest != interp {
		t.Errorf("first file %q, want the interpreter %q", libs[0].Guest, interp)
	}
	if _, ok := byName["libc.so.6"]; !ok {
		t.Errorf("libc.so.6 not among %+v", libs)
	}

	_, err = sharedLibs(program, []string{t.TempDir()})
	var mle *MissingLibraryError
	if !errors.As(err, &mle) || !errors.Is(err, ErrMissingLibrary) {
		t.Fatalf("sharedLibs with no library dirs = %v", err)
	}
	if !strings.Contains(err.Error(), "libc.so.6 (needed by true)") || !strings.Contains(err.Error(), "CGO_ENABLED=0") {
		t.Errorf("error %q does not name libc.so.6 and its user", err)
	}

	// Prepare puts them in the image.
	n, err := New(Options{Kernel: nanosRelease(t, true, false)})
	must(t, err)
	w := &fakeWriter{}
	n.write = w.write
	_, err = n.Prepare(t.Context(), &image.Store{Dir: t.TempDir()}, 1, image.Artifacts{Kernel: program})
	must(t, err)
	files := guestPaths(w.spec.Files)
	for _, l := range libs {
		if files[l.Guest].Host != l.Host {
			t.Errorf("image lacks %s", l.Guest)
		}
	}

	libs, err = sharedLibs(imagetest.StaticProgram(t, t.TempDir(), "static"), nil)
	if err != nil || libs != nil {
		t.Errorf("static program libraries = %v, %v", libs, err)
	}
}

func TestDecode(t *testing.T) {
	n := &Kernel{}
	tests := []struct {
		name string
		o    image.Outcome
		want guestexit.Exit
	}{
		{"exit 0", image.Outcome{Kind: image.QEMUExited, Status: 1}, guestexit.Exit{Reason: guestexit.ReasonExit, Code: 0, HasCode: true}},
		{"exit 3", image.Outcome{Kind: image.QEMUExited, Status: 7}, guestexit.Exit{Reason: guestexit.ReasonExit, Code: 3, HasCode: true}},
		{"go panic exit 2", image.Outcome{Kind: image.QEMUExited, Status: 5}, guestexit.Exit{Reason: guestexit.ReasonExit, Code: 2, HasCode: true}},
		{"killed by SIGSEGV", image.Outcome{Kind: image.QEMUExited, Status: 23}, guestexit.Exit{Reason: guestexit.ReasonExit, Code: 11, HasCode: true}},
		{"SIGTERM", image.Outcome{Kind: image.QEMUExited, Status: 31}, guestexit.Exit{Reason: guestexit.ReasonExit, Code: 15, HasCode: true}},
		{"kernel fault", image.Outcome{Kind: image.QEMUExited, Status: 253}, guestexit.Exit{Reason: guestexit.ReasonCrash, Detail: "Nanos kernel fault (QEMU status 253)"}},
		{"kernel halt", image.Outcome{Kind: image.QEMUExited, Status: 255}, guestexit.Exit{Reason: guestexit.ReasonCrash, Detail: "Nanos kernel halt, e.g. out of memory (QEMU status 255)"}},
		{"QEMU killed", image.Outcome{Kind: image.QEMUExited, Status: -1, Signal: "killed"}, guestexit.Exit{Reason: guestexit.ReasonKilled, Detail: "QEMU killed by killed"}},
		{"QEMU error", image.Outcome{Kind: image.QEMUExited, Status: 1, Detail: "qemu: could not open disk"}, guestexit.Exit{Reason: guestexit.ReasonQEMUError, Detail: "qemu: could not open disk"}},
		{"triple fault", image.Outcome{Kind: image.GuestReset}, guestexit.Exit{Reason: guestexit.ReasonCrash, Detail: "triple fault or guest reset; VM paused for inspection"}},
		{"stopped", image.Outcome{Kind: image.StoppedByHost}, guestexit.Exit{Reason: guestexit.ReasonKilled, Detail: "stopped by ukdev"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := n.Decode(tt.o); got != tt.want {
				t.Errorf("Decode(%+v) = %+v, want %+v", tt.o, got, tt.want)
			}
		})
	}
	var _ flavor.Kernel = n
	var _ flavor.ConsoleExplainer = n
}

func TestStoreDisk(t *testing.T) {
	store := &image.Store{Dir: t.TempDir(), Keep: 1}
	src := imagetest.StaticProgram(t, t.TempDir(), "app")
	if _, err := store.WriteDisk(3, "disk.img", func(string) error { return nil }); err == nil {
		t.Error("WriteDisk before Copy succeeded")
	}
	_, err := store.Copy(t.Context(), 3, image.Artifacts{Kernel: src})
	must(t, err)
	p, err := store.AddFile(t.Context(), 3, src, "extra")
	must(t, err)
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o400 || filepath.Dir(p) != store.BuildDir(3) {
		t.Errorf("AddFile: %s %v %v", p, fi, err)
	}
	if _, err := store.AddFile(t.Context(), 3, filepath.Join(t.TempDir(), "gone"), "x"); !errors.Is(err, image.ErrMissingArtifact) {
		t.Errorf("AddFile of a missing file = %v", err)
	}
	for _, bad := range []string{"", "../x", "a/b"} {
		if _, err := store.AddFile(t.Context(), 3, src, bad); err == nil {
			t.Errorf("AddFile name %q accepted", bad)
		}
		if _, err := store.WriteDisk(3, bad, func(string) error { return nil }); err == nil {
			t.Errorf("WriteDisk name %q accepted", bad)
		}
	}
	boom := errors.New("boom")
	if _, err := store.WriteDisk(3, "disk.img", func(string) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("WriteDisk error = %v", err)
	}
}

func TestWriteDisk(t *testing.T) {
	cfg, err := ops.Parse("config.json", []byte(`{"Args": ["-v"], "BaseVolumeSz": "64m"}`))
	must(t, err)
	prog := imagetest.StaticProgram(t, t.TempDir(), "app")
	tests := []struct {
		name     string
		bootImg  bool
		boot     Boot
		minSize  int64
		other    bool // a disk this kernel did not prepare
		wantSize int64
		wantErr  error
	}{
		{name: "direct image rewritten with boot.img", bootImg: true, wantSize: 64 << 20},
		{name: "disk image, grown for a cloud", bootImg: true, boot: BootDisk, minSize: 1 << 30, wantSize: 1 << 30},
		{name: "no boot.img", wantErr: image.ErrNoDiskBoot},
		{name: "an image of another kernel", bootImg: true, other: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rel := nanosRelease(t, true, tt.bootImg)
			n, err := New(Options{Config: cfg, Kernel: rel, Boot: tt.boot})
			must(t, err)
			w := &fakeWriter{}
			n.write = w.write
			store := &image.Store{Dir: t.TempDir(), Keep: 2}
			img, err := n.Prepare(t.Context(), store, 3, image.Artifacts{Kernel: prog})
			must(t, err)
			prepared := w.spec
			if tt.other {
				img.Disk = filepath.Join(t.TempDir(), "disk.img")
			}
			out := filepath.Join(t.TempDir(), "app.raw")
			var progress int64
			d, err := n.WriteDisk(t.Context(), img, out, image.DiskOptions{MinSize: tt.minSize, Progress: func(w, _ int64) { progress = w }})
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			case tt.other:
				if err == nil {
					t.Fatal("wrote the disk of an image this kernel did not prepare")
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			want := image.Disk{Path: out, Size: 42, Machine: "q35", Firmware: image.FirmwareBIOS, Loader: "nanos", ENA: true}
			if d != want || w.dst != out || progress != 42 {
				t.Errorf("Disk = %+v (written to %s, progress %d), want %+v", d, w.dst, progress, want)
			}
			if w.spec.BootImg != rel.BootImg || w.spec.Size != tt.wantSize {
				t.Errorf("spec boot.img %q size %d, want %q %d", w.spec.BootImg, w.spec.Size, rel.BootImg, tt.wantSize)
			}
			if !reflect.DeepEqual(w.spec.Files, prepared.Files) || !reflect.DeepEqual(w.spec.Root, prepared.Root) {
				t.Errorf("disk files or manifest differ from the prepared image's:\n%+v\n%+v", w.spec.Files, prepared.Files)
			}
			if _, ok := guestPaths(w.spec.Files)["/app"]; !ok {
				t.Errorf("no /app in %+v", w.spec.Files)
			}
		})
	}
}
