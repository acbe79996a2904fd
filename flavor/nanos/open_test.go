package nanos

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ukdev/ukdev/flavor"
	"github.com/ukdev/ukdev/flavor/nanos/ops"
	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/image/imagetest"
	"github.com/ukdev/ukdev/project"
	"github.com/ukdev/ukdev/project/projecttest"
)

// pvhKernel returns a minimal ELF64 kernel with a PVH note: what QEMU's
// -kernel needs for PVH, and all image.Inspect looks at.
func pvhKernel() []byte {
	return imagetest.ELF{Class: elf.ELFCLASS64, SegNotes: imagetest.PVHNote(binary.LittleEndian)}.Bytes()
}

// fakeOpsHome makes an ops home under a new OPS_HOME with the given
// releases (each a kernel.img with a PVH note and an empty klibs
// directory) and latest.txt naming latest ("" for no latest.txt). It
// returns the ops home (…/.ops).
func fakeOpsHome(t *testing.T, latest string, versions ...string) string {
	t.Helper()
	base := t.TempDir()
	t.Setenv("OPS_HOME", base)
	home := filepath.Join(base, ".ops")
	projecttest.WriteFile(t, filepath.Join(home, ".keep"), "")
	for _, v := range versions {
		projecttest.WriteFile(t, filepath.Join(home, v, "kernel.img"), string(pvhKernel()))
		if err := os.MkdirAll(filepath.Join(home, v, "klibs"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if latest != "" {
		projecttest.WriteFile(t, filepath.Join(home, "latest.txt"), latest+"\n")
	}
	return home
}

// nanosConfig writes a project with ukdev.toml (flavor nanos plus extra)
// and, unless opsJSON is empty, a config.json, and loads it.
func nanosConfig(t *testing.T, extra, opsJSON string) *project.Config {
	t.Helper()
	dir := t.TempDir()
	if opsJSON != "" {
		projecttest.WriteFile(t, filepath.Join(dir, "config.json"), opsJSON)
	}
	path := filepath.Join(dir, project.FileName)
	projecttest.WriteFile(t, path, "flavor = \"nanos\"\nkernel.image = \"app\"\n"+extra)
	cfg, err := project.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestOpen(t *testing.T) {
	tests := []struct {
		name        string
		toml, ops   string
		wantPorts   []string // Port.String() of each forward, in order
		wantMemory  int
		wantCPUs    int
		wantNotes   []string // "config.json: …" suffixes, in order
		wantVersion string
	}{
		{name: "no ops config: 512 MiB, no ports", wantMemory: 512, wantCPUs: 1, wantVersion: "0.1.52"},
		{name: "RunConfig ports and memory",
			ops:        `{"RunConfig": {"Ports": ["8080", "9000-9001"], "UDPPorts": ["5353"], "Memory": "1G", "CPUs": 2}}`,
			wantPorts:  []string{"tcp:127.0.0.1:8080:8080", "tcp:127.0.0.1:9000:9000", "tcp:127.0.0.1:9001:9001", "udp:127.0.0.1:5353:5353"},
			wantMemory: 1024, wantCPUs: 2, wantVersion: "0.1.52"},
		{name: "ukdev.toml's forwards and memory win",
			toml: "vm.memory = \"256M\"\nvm.ports = [\"8080:80\", \"0.0.0.0:9001:9001\"]\n",
			ops:  `{"RunConfig": {"Ports": ["8080", "9000-9001", "80"], "Memory": "2G"}}`,
			// 80 is forwarded already (8080:80): not again on the
			// privileged host port 80.
			wantPorts:  []string{"tcp:127.0.0.1:8080:80", "tcp:0.0.0.0:9001:9001", "tcp:127.0.0.1:9000:9000"},
			wantMemory: 256, wantCPUs: 1, wantVersion: "0.1.52"},
		{name: "ops config without RunConfig.Memory: 512 MiB",
			ops:        `{"Args": ["-v"], "RunConfig": {"Ports": ["80"]}}`,
			wantPorts:  []string{"tcp:127.0.0.1:80:80"},
			wantMemory: 512, wantCPUs: 1, wantVersion: "0.1.52"},
		{name: "ignored keys come back as notes",
			ops:       `{"Bogus": 1, "RunConfig": {"Verbose": true, "Ports": ["80"]}, "CloudConfig": {"Zone": "z"}}`,
			wantPorts: []string{"tcp:127.0.0.1:80:80"}, wantMemory: 512, wantCPUs: 1, wantVersion: "0.1.52",
			wantNotes: []string{"ignored: Bogus", "ignored: CloudConfig (used by cloud deploys, not by the dev loop)", "ignored: RunConfig.Verbose"}},
		{name: "the ops config's NanosVersion",
			ops:        `{"NanosVersion": "0.1.50"}`,
			wantMemory: 512, wantCPUs: 1, wantVersion: "0.1.50"},
		{name: "nanos.version over NanosVersion",
			toml:       "nanos.version = \"0.1.51\"\n",
			ops:        `{"NanosVersion": "0.1.50"}`,
			wantMemory: 512, wantCPUs: 1, wantVersion: "0.1.51"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := fakeOpsHome(t, "0.1.52", "0.1.50", "0.1.51", "0.1.52")
			cfg := nanosConfig(t, tt.toml, tt.ops)
			before := *cfg
			before.VM.Ports = append([]project.Port(nil), cfg.VM.Ports...)

			s, err := Flavor{}.Open(cfg)
			if err != nil {
				t.Fatal(err)
			}
			f, got, notes := s.Kernel, s.Config, s.Notes
			var ports []string
			for _, p := range got.VM.Ports {
				ports = append(ports, p.String())
			}
			if !reflect.DeepEqual(ports, tt.wantPorts) {
				t.Errorf("ports %q, want %q", ports, tt.wantPorts)
			}
			if got.VM.Network != (len(tt.wantPorts) > 0) {
				t.Errorf("network %v with ports %q", got.VM.Network, ports)
			}
			if got.VM.MemoryMiB != tt.wantMemory || got.VM.CPUs != tt.wantCPUs {
				t.Errorf("memory %d MiB, %d CPUs; want %d, %d", got.VM.MemoryMiB, got.VM.CPUs, tt.wantMemory, tt.wantCPUs)
			}
			var wantNotes []string
			for _, n := range tt.wantNotes {
				wantNotes = append(wantNotes, SettingsOf(cfg).Config+": "+n)
			}
			if !reflect.DeepEqual(notes, wantNotes) {
				t.Errorf("notes %q, want %q", notes, wantNotes)
			}
			if !reflect.DeepEqual(cfg, &before) {
				t.Errorf("Open changed its argument:\n%+v\nwant %+v", cfg, &before)
			}
			// The kernel comes from the version the config picks: Prepare
			// copies it into the store.
			if _, ok := f.(*Kernel); !ok {
				t.Fatalf("kernel is a %T", f)
			}
			wantKernel := filepath.Join(home, tt.wantVersion, "kernel.img")
			if err := os.WriteFile(wantKernel, append(pvhKernel(), "marker"...), 0o644); err != nil {
				t.Fatal(err)
			}
			img := prepareFake(t, f, got)
			if data, err := os.ReadFile(img.Kernel); err != nil || !bytes.HasSuffix(data, []byte("marker")) {
				t.Errorf("booted kernel %s is not %s (%v)", img.Kernel, wantKernel, err)
			}
		})
	}
}

// prepareFake prepares a fake static program as build 1.
func prepareFake(t *testing.T, f flavor.Kernel, cfg *project.Config) image.Image {
	t.Helper()
	projecttest.WriteFile(t, cfg.Kernel.Image, string(pvhKernel()))
	img, err := f.Prepare(t.Context(), &image.Store{Dir: filepath.Join(t.TempDir(), "images"), Keep: 2}, 1, image.Artifacts{Kernel: cfg.Kernel.Image})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name    string
		latest  string   // latest.txt's version, "" for none
		have    []string // releases in the cache
		toml    string
		ops     string
		wantIs  error
		wantMsg []string // parts of the error message; "$HOME" is the ops home
	}{
		{name: "empty cache", wantIs: ops.ErrNoKernel,
			wantMsg: []string{"$HOME/latest.txt (missing)", "ops update", "ukdev kernel fetch"}},
		{name: "latest.txt names a missing release", latest: "0.1.52", have: []string{"0.1.50"}, wantIs: ops.ErrNoKernel,
			wantMsg: []string{"$HOME/latest.txt → 0.1.52", "$HOME/0.1.52/kernel.img (missing)"}},
		{name: "NanosVersion not in the cache", latest: "0.1.50", have: []string{"0.1.50"}, ops: `{"NanosVersion": "0.0.9"}`,
			wantIs: ops.ErrNoKernel, wantMsg: []string{"$HOME/0.0.9/kernel.img (missing)"}},
		{name: "nanos.kernel missing", latest: "0.1.50", have: []string{"0.1.50"}, toml: "nanos.kernel = \"/nowhere/kernel.img\"\n",
			wantIs: ops.ErrNoKernel, wantMsg: []string{"/nowhere/kernel.img (missing)"}},
		{name: "bad RunConfig port", latest: "0.1.50", have: []string{"0.1.50"}, ops: `{"RunConfig": {"Ports": ["http"]}}`,
			wantIs: ops.ErrBadValue, wantMsg: []string{"config.json", `"http"`}},
		{name: "huge RunConfig port range", latest: "0.1.50", have: []string{"0.1.50"}, ops: `{"RunConfig": {"Ports": ["1000-2000"]}}`,
			wantMsg: []string{"config.json", "1000-2000", "more than 256 ports"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := fakeOpsHome(t, tt.latest, tt.have...)
			cfg := nanosConfig(t, tt.toml, tt.ops)
			_, err := Flavor{}.Open(cfg)
			if err == nil {
				t.Fatal("Open succeeded")
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %v is not %v", err, tt.wantIs)
			}
			for _, part := range tt.wantMsg {
				if part = strings.ReplaceAll(part, "$HOME", home); !strings.Contains(err.Error(), part) {
					t.Errorf("error %q does not say %q", err, part)
				}
			}
			if strings.Count(err.Error(), "\n") > 0 {
				t.Errorf("error is more than one line: %q", err)
			}
		})
	}
}

// TestOpenPrepareGoProgram builds a real static Go program and turns
// it into a Nanos image the way the loop does.
func TestOpenPrepareGoProgram(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go program: skipped in -short mode")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command in PATH")
	}
	fakeOpsHome(t, "0.1.52", "0.1.52")
	cfg := nanosConfig(t, "", `{"Args": ["-addr", ":8080"], "Env": {"MODE": "test"}, "RunConfig": {"Ports": ["8080"]}}`)
	const marker = "nanos flavor test program 7f3a"
	projecttest.WriteFile(t, filepath.Join(cfg.Root, "go.mod"), "module flavortest\n\ngo 1.21\n")
	projecttest.WriteFile(t, filepath.Join(cfg.Root, "main.go"), "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\""+marker+"\") }\n")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, goBin, "build", "-o", cfg.Kernel.Image, ".")
	build.Dir = cfg.Root
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	s, err := Flavor{}.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f, c := s.Kernel, s.Config
	store := &image.Store{Dir: filepath.Join(t.TempDir(), "images"), Keep: 2}
	img, err := f.Prepare(t.Context(), store, 3, image.Artifacts{Kernel: c.Kernel.Image, Symbols: c.Kernel.Symbols})
	if err != nil {
		t.Fatal(err)
	}
	if img.Build != 3 || img.Protocols != image.PVH || img.Machine != "microvm" || !img.DebugExit || !img.Balloon || !img.RNG {
		t.Errorf("image %+v: want build 3, PVH on microvm with debug exit, balloon and RNG", img)
	}
	if data, err := os.ReadFile(img.Kernel); err != nil || !bytes.Equal(data, pvhKernel()) {
		t.Errorf("kernel %s is not the cache's kernel.img (%v)", img.Kernel, err)
	}
	prog, err := os.ReadFile(c.Kernel.Image)
	if err != nil {
		t.Fatal(err)
	}
	if sym, err := os.ReadFile(img.Symbols); err != nil || !bytes.Equal(sym, prog) {
		t.Errorf("symbols %s are not the program (%v)", img.Symbols, err)
	}
	disk, err := os.ReadFile(img.Disk)
	if err != nil {
		t.Fatal(err)
	}
	if len(disk) < len(prog) || disk[510] != 0x55 || disk[511] != 0xaa {
		t.Fatalf("disk %s: %d bytes (program %d), boot signature %x", img.Disk, len(disk), len(prog), disk[510:512])
	}
	for _, want := range []string{marker, "-addr", ":8080", "MODE", "test", "debug_exit"} {
		if !bytes.Contains(disk, []byte(want)) {
			t.Errorf("disk image lacks %q", want)
		}
	}
	if st := f.(*Kernel).LastStats(); st.Bytes != int64(len(disk)) || st.Files < 4 {
		t.Errorf("LastStats = %+v for a %d-byte image", st, len(disk))
	}
	t.Logf("%d-byte program: %d-byte image written in %s", len(prog), len(disk), f.(*Kernel).LastStats().Duration)
}
