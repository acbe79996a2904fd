package project

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// elfFile returns a minimal little-endian ELF header of the given e_type.
func elfFile(etype uint16) []byte {
	b := make([]byte, 64)
	copy(b, "\x7fELF\x02\x01\x01")
	binary.LittleEndian.PutUint16(b[16:], etype)
	return b
}

func writeFiles(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDetect(t *testing.T) {
	const etExec, etRel = 2, 1
	tests := []struct {
		name  string
		files map[string][]byte
		want  Detection
	}{
		{"makefile naming an elf",
			map[string][]byte{"Makefile": []byte("KERNEL = build/hello.elf\n$(BUILD)/x.elf: main.o\n\tld -o $@ $^\nall: ./build/hello.elf\n")},
			Detection{Flavor: "elf", Source: "Makefile", Complete: true, BuildCommand: "make", Image: "build/hello.elf", Reason: "Makefile builds build/hello.elf"}},
		{"makefile naming an existing ELF without extension",
			map[string][]byte{"makefile": []byte("all: out/kernel\nout/kernel: k.o\n"), "out/kernel": elfFile(etExec), "k.o": elfFile(etRel)},
			Detection{Flavor: "elf", Source: "makefile", Complete: true, BuildCommand: "make", Image: "out/kernel", Reason: "makefile builds out/kernel"}},
		{"makefile and an ELF it does not name",
			map[string][]byte{"Makefile": []byte("all:\n\tcc -o $(OUT) x.c\n"), "deep/er/kern": elfFile(etExec)},
			Detection{Flavor: "elf", Source: "Makefile", Complete: true, BuildCommand: "make", Image: "deep/er/kern", Reason: "Makefile found; deep/er/kern is an ELF executable"}},
		{"makefile only",
			map[string][]byte{"Makefile": []byte("all:\n\t$(CC) -o $(OUT)/k main.c\n"), "main.o": elfFile(etRel)},
			Detection{Flavor: "elf", Source: "Makefile", BuildCommand: "make", Reason: "Makefile found; set kernel.image to the kernel it builds"}},
		{"ELF only, .elf preferred over shallower",
			map[string][]byte{"a": elfFile(etExec), "b/c.elf": elfFile(etExec), ".git/x.elf": elfFile(etExec)},
			Detection{Flavor: "elf", Image: "b/c.elf", Reason: "found ELF executable b/c.elf; set build.command"}},
		{"nothing",
			map[string][]byte{"README": []byte("hi"), "short": []byte("\x7fEL")},
			Detection{Flavor: "elf", Reason: "no Makefile or ELF kernel found; set build.command and kernel.image"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tt.files)
			got := Detect(dir)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Detect = %+v\nwant     %+v", got, tt.want)
			}
		})
	}
	t.Run("missing dir", func(t *testing.T) {
		got := Detect(filepath.Join(t.TempDir(), "nope"))
		if got.Flavor != "elf" || got.Image != "" || got.BuildCommand != "" {
			t.Fatalf("Detect(missing) = %+v", got)
		}
	})
}

func TestInitFile(t *testing.T) {
	defaults, err := Parse(filepath.Join(root, FileName), []byte("kernel.image = \"build/kernel.elf\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		d           Detection
		wantCommand string
		wantImage   string
		wantIgnore  []string // the image's directory: the build writes there
	}{
		{"detected", Detection{Flavor: "elf", BuildCommand: "make", Image: "build/hello.elf", Reason: "Makefile builds build/hello.elf"}, "make", root + "/build/hello.elf", []string{"build/"}},
		{"image at the root", Detection{Flavor: "elf", BuildCommand: "make", Image: "kernel.elf"}, "make", root + "/kernel.elf", nil},
		{"nothing detected", Detection{}, "", root + "/" + placeholderImage, nil},
		{"odd characters", Detection{BuildCommand: "make \"A=\\1\"", Image: "b/x y\".elf", Reason: "line\nbreak"}, "make \"A=\\1\"", root + "/b/x y\".elf", []string{"b/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := InitFile(tt.d)
			c, err := Parse(filepath.Join(root, FileName), data)
			if err != nil {
				t.Fatalf("InitFile output does not parse: %v\n%s", err, data)
			}
			if c.Build.Command != tt.wantCommand || c.Kernel.Image != tt.wantImage {
				t.Errorf("command %q image %q, want %q %q", c.Build.Command, c.Kernel.Image, tt.wantCommand, tt.wantImage)
			}
			if !reflect.DeepEqual(c.Watch.Ignore, tt.wantIgnore) && len(c.Watch.Ignore)+len(tt.wantIgnore) > 0 {
				t.Errorf("watch.ignore %q, want %q", c.Watch.Ignore, tt.wantIgnore)
			}
			// Apart from the detected values, the file holds only defaults.
			c.Build.Command, c.Build.CommandSet, c.Kernel, c.Watch.Ignore = defaults.Build.Command, defaults.Build.CommandSet, defaults.Kernel, defaults.Watch.Ignore
			if !reflect.DeepEqual(c, defaults) {
				t.Errorf("InitFile sets more than the detection:\n%+v\nwant %+v", c, defaults)
			}
			for _, section := range []string{"[build]", "[watch]", "[kernel]", "[vm]", "[logs]"} {
				if !strings.Contains(string(data), section+"\n") {
					t.Errorf("no %s section", section)
				}
			}
			if strings.Count(string(data), "# Detected:") > 1 || strings.Contains(string(data), "line\nbreak") {
				t.Errorf("reason not kept on one line:\n%s", data)
			}
		})
	}
	t.Run("commented defaults parse as the defaults", func(t *testing.T) {
		var b strings.Builder
		for _, line := range strings.Split(string(InitFile(Detection{})), "\n") {
			if rest, ok := strings.CutPrefix(line, "# "); ok && strings.Contains(rest, " = ") &&
				!strings.HasPrefix(rest, "name") && !strings.HasPrefix(rest, "env") &&
				!strings.HasPrefix(rest, "ports") && !strings.HasPrefix(rest, "ignore") && !strings.HasPrefix(rest, "command") {
				line = rest
			}
			b.WriteString(line + "\n")
		}
		c, err := Parse(filepath.Join(root, FileName), []byte(b.String()))
		if err != nil {
			t.Fatalf("uncommented file does not parse: %v\n%s", err, b.String())
		}
		want := *defaults
		want.Kernel.Symbols, want.Kernel.Initrd = c.Kernel.Symbols, c.Kernel.Initrd
		if c.Kernel.Initrd != "" || c.Kernel.Symbols != c.Kernel.Image {
			t.Errorf("initrd %q symbols %q", c.Kernel.Initrd, c.Kernel.Symbols)
		}
		want.VM.Args = c.VM.Args
		want.VM.MemorySet, want.VM.CPUsSet = true, true // the uncommented defaults are given explicitly
		if !reflect.DeepEqual(c, &want) {
			t.Errorf("commented defaults differ from the defaults:\n%+v\nwant %+v", c, &want)
		}
	})
}

func TestDetectNanos(t *testing.T) {
	const mainGo = "package main\n\nimport \"net/http\"\n\nfunc main() { http.ListenAndServe(\":8080\", nil) }\n"
	tests := []struct {
		name  string
		dir   string // the project directory's name
		files map[string][]byte
		want  Detection
	}{
		{"ops config with Program, Go module", "proj",
			map[string][]byte{"config.json": []byte(`{"Program": "./bin/server", "RunConfig": {"Ports": ["80"]}}`), "go.mod": []byte("module x\n")},
			Detection{Flavor: "nanos", Source: "config.json", Complete: true, OpsConfig: "config.json", Image: "bin/server", BuildCommand: "CGO_ENABLED=0 go build -o bin/server .",
				Reason: "config.json is an ops config; program bin/server (its Program), built with go build"}},
		{"ops config without Program: the directory names the program", "my svc",
			map[string][]byte{"config.json": []byte(`{"args": ["-v"], "env": {"A": "1"}}`), "main.go": []byte(mainGo)},
			Detection{Flavor: "nanos", Source: "config.json", Complete: true, OpsConfig: "config.json", Image: "my-svc", BuildCommand: "CGO_ENABLED=0 go build -o my-svc .",
				Reason: "config.json is an ops config; program my-svc (named after the directory), built with go build"}},
		{"ops config with a Program outside the project", "proj",
			map[string][]byte{"config.json": []byte(`{"Program": "/usr/local/bin/daemon"}`), "Makefile": []byte("all:\n\tcc -o daemon d.c\n")},
			Detection{Flavor: "nanos", Source: "config.json", Complete: true, OpsConfig: "config.json", Image: "daemon", BuildCommand: "make",
				Reason: "config.json is an ops config; program daemon (its Program), built by Makefile"}},
		{"empty ops config, nothing to build", ".hidden",
			map[string][]byte{"config.json": []byte(`{}`)},
			Detection{Flavor: "nanos", Source: "config.json", Complete: true, OpsConfig: "config.json", Image: "hidden",
				Reason: "config.json is an ops config; program hidden (named after the directory); set build.command"}},
		{"main.go and no config: a linux program, ports from listen addresses", "web",
			map[string][]byte{"main.go": []byte(mainGo), "more.go": []byte("package main\n\nconst (\n\ta = \"0.0.0.0:9090\"\n\tb = `[::]:8080`\n\tc = \"127.0.0.1:7070\"\n\td = \"12:30\"\n\te = \":99999\"\n)\n"),
				"x_test.go": []byte("package main\n\nconst t = \":6060\"\n")},
			Detection{Flavor: "linux", Source: "main.go", Image: "app", BuildCommand: "CGO_ENABLED=0 go build -o app .", Ports: []int{8080, 9090},
				Reason: "main.go is a Go program, run by Linux as /init listening on ports 8080, 9090; there is no go.mod: run `go mod init` first"}},
		{"main.go without a listen address, in a module", "tool",
			map[string][]byte{"main.go": []byte("package main\n\nfunc main() { println(\"hi\") }\n"), "go.mod": []byte("module tool\n")},
			Detection{Flavor: "linux", Source: "go.mod and main.go", Complete: true, Image: "app", BuildCommand: "CGO_ENABLED=0 go build -o app .",
				Reason: "main.go is a Go program, run by Linux as /init"}},
		{"main.go of another package is not a program", "lib",
			map[string][]byte{"main.go": []byte("package lib\n")},
			Detection{Flavor: "elf", Reason: "no Makefile or ELF kernel found; set build.command and kernel.image"}},
		{"config.json of another tool", "web",
			map[string][]byte{"config.json": []byte(`{"compilerOptions": {}}`), "Makefile": []byte("all: build/k.elf\n")},
			Detection{Flavor: "elf", Source: "Makefile", Complete: true, BuildCommand: "make", Image: "build/k.elf", Reason: "Makefile builds build/k.elf"}},
		{"config.json that is not an object", "web",
			map[string][]byte{"config.json": []byte(`["Args"]`)},
			Detection{Flavor: "elf", Reason: "no Makefile or ELF kernel found; set build.command and kernel.image"}},
		{"broken config.json", "web",
			map[string][]byte{"config.json": []byte(`{"Args": [`)},
			Detection{Flavor: "elf", Reason: "no Makefile or ELF kernel found; set build.command and kernel.image"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), tt.dir)
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			writeFiles(t, dir, tt.files)
			got := Detect(dir)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Detect = %+v\nwant     %+v", got, tt.want)
			}
		})
	}
}

func TestInitFileNanos(t *testing.T) {
	tests := []struct {
		name        string
		d           Detection
		wantCommand string
		wantImage   string
		wantIgnore  []string
	}{
		{"from main.go", Detection{Flavor: "nanos", Image: "web", BuildCommand: "CGO_ENABLED=0 go build -o web .", Ports: []int{8080}, Reason: "main.go"},
			"CGO_ENABLED=0 go build -o web .", root + "/web", []string{"/web", "/web-go-tmp-*"}},
		{"program in a subdirectory", Detection{Flavor: "nanos", Source: "config.json", Complete: true, OpsConfig: "config.json", Image: "bin/server", BuildCommand: "make"},
			"make", root + "/bin/server", []string{"/bin/server"}},
		{"no program found", Detection{Flavor: "nanos"}, "", root + "/" + placeholderProgram, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := InitFile(tt.d)
			c, err := Parse(filepath.Join(root, FileName), data)
			if err != nil {
				t.Fatalf("InitFile output does not parse: %v\n%s", err, data)
			}
			if c.Flavor != "nanos" || c.Build.Command != tt.wantCommand || c.Kernel.Image != tt.wantImage || c.Kernel.Symbols != tt.wantImage {
				t.Errorf("flavor %q command %q image %q symbols %q, want nanos %q %q", c.Flavor, c.Build.Command, c.Kernel.Image, c.Kernel.Symbols, tt.wantCommand, tt.wantImage)
			}
			if !reflect.DeepEqual(c.Watch.Ignore, tt.wantIgnore) {
				t.Errorf("watch.ignore %q, want %q", c.Watch.Ignore, tt.wantIgnore)
			}
			// The flavor picks memory, ports and the kernel: the file leaves them unset.
			if c.VM.MemorySet || len(c.VM.Ports) > 0 || c.Nanos != (Nanos{Boot: "direct"}) {
				t.Errorf("InitFile sets vm or nanos keys: %+v %+v", c.VM, c.Nanos)
			}
			for _, section := range []string{"[build]", "[watch]", "[kernel]", "[vm]", "[logs]", "[nanos]"} {
				if !strings.Contains(string(data), section+"\n") {
					t.Errorf("no %s section", section)
				}
			}
		})
	}
	t.Run("commented nanos keys parse", func(t *testing.T) {
		var b strings.Builder
		section := ""
		for _, line := range strings.Split(string(InitFile(Detection{Flavor: "nanos", Image: "app"})), "\n") {
			if strings.HasPrefix(line, "[") {
				section = line
			}
			if rest, ok := strings.CutPrefix(line, "# "); ok && section == "[nanos]" {
				line = rest
			}
			b.WriteString(line + "\n")
		}
		c, err := Parse(filepath.Join(root, FileName), []byte(b.String()))
		if err != nil {
			t.Fatalf("uncommented [nanos] does not parse: %v\n%s", err, b.String())
		}
		if want := (Nanos{Config: root + "/config.json", Boot: "direct"}); c.Nanos != want {
			t.Errorf("uncommented [nanos] = %+v, want %+v", c.Nanos, want)
		}
	})
}

func TestOpsConfigFile(t *testing.T) {
	type runConfig struct{ Ports []string }
	type opsFile struct {
		Program   string
		Args      []string
		Env       map[string]string
		RunConfig *runConfig
	}
	tests := []struct {
		name string
		d    Detection
		want *opsFile // nil: no file
	}{
		{"ports", Detection{Flavor: "nanos", Image: "web", Ports: []int{8080, 9090}},
			&opsFile{Program: "web", Args: []string{}, Env: map[string]string{}, RunConfig: &runConfig{Ports: []string{"8080", "9090"}}}},
		{"no ports", Detection{Flavor: "nanos", Image: "tool"},
			&opsFile{Program: "tool", Args: []string{}, Env: map[string]string{}}},
		{"no program", Detection{Flavor: "nanos"},
			&opsFile{Program: placeholderProgram, Args: []string{}, Env: map[string]string{}}},
		{"elf", Detection{Flavor: "elf", Image: "k.elf", Ports: []int{80}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := OpsConfigFile(tt.d)
			if tt.want == nil {
				if data != nil {
					t.Fatalf("OpsConfigFile = %s, want nil", data)
				}
				return
			}
			var got opsFile
			dec := json.NewDecoder(bytes.NewReader(data))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&got); err != nil {
				t.Fatalf("OpsConfigFile output does not decode: %v\n%s", err, data)
			}
			if !reflect.DeepEqual(&got, tt.want) {
				t.Errorf("OpsConfigFile = %+v, want %+v\n%s", got, *tt.want, data)
			}
			if !bytes.HasSuffix(data, []byte("}\n")) {
				t.Errorf("no final newline:\n%s", data)
			}
			// The file is an ops config by Detect's own test.
			dir := t.TempDir()
			writeFiles(t, dir, map[string][]byte{OpsConfigName: data})
			if d := Detect(dir); d.Flavor != "nanos" || d.OpsConfig != OpsConfigName || d.Image != got.Program {
				t.Errorf("Detect on the written config = %+v", d)
			}
		})
	}
}

// TestDetectPrecedence covers each rule of Detect and their order: a
// Kraftfile or a Unikraft Makefile > an ops config > a Go main package > a
// Makefile or an ELF executable.
func TestDetectPrecedence(t *testing.T) {
	const (
		ukMakefile  = "UK_ROOT ?= $(PWD)/../unikraft\nLIBS :=\n\nall:\n\t@$(MAKE) -C $(UK_ROOT) A=$(PWD) L=$(LIBS)\n"
		ukMakeOnly  = "all:\n\t$(MAKE) -C ../unikraft A=$(CURDIR) L=\n"
		elfMakefile = "all: build/k.elf\n"
		kraftfile   = "spec: v0.6\nname: hello\nunikraft:\n  version: stable\ntargets:\n- qemu/x86_64\n"
		opsConfig   = `{"RunConfig": {"Ports": ["8080"]}}`
		mainGo      = "package main\n\nconst addr = \":8080\"\n\nfunc main() {}\n"
		goMod       = "module web\n\ngo 1.22\n"
	)
	const ukImage = "; the image is the newest *_qemu-x86_64 in .unikraft/build or build"
	tests := []struct {
		name  string
		files map[string]string
		want  Detection
	}{
		{"Kraftfile",
			map[string]string{"Kraftfile": kraftfile},
			Detection{Flavor: "unikraft", Source: "Kraftfile", Complete: true, Reason: "Kraftfile: a Unikraft project, built with kraft build" + ukImage}},
		{"kraft.yaml",
			map[string]string{"kraft.yaml": kraftfile},
			Detection{Flavor: "unikraft", Source: "kraft.yaml", Complete: true, Reason: "kraft.yaml: a Unikraft project, built with kraft build" + ukImage}},
		{"Unikraft Makefile with UK_ROOT",
			map[string]string{"Makefile": ukMakefile, "main.c": "int main(void) { return 0; }\n"},
			Detection{Flavor: "unikraft", Source: "a Unikraft Makefile (UK_ROOT)", Complete: true,
				Reason: "Makefile hands the build to Unikraft's (UK_ROOT, A=, L=): a Unikraft application, built with make" + ukImage}},
		{"Unikraft Makefile with A= only",
			map[string]string{"GNUmakefile": ukMakeOnly},
			Detection{Flavor: "unikraft", Source: "a Unikraft GNUmakefile (UK_ROOT)", Complete: true,
				Reason: "GNUmakefile hands the build to Unikraft's (UK_ROOT, A=, L=): a Unikraft application, built with make" + ukImage}},
		{"Kraftfile and Unikraft Makefile",
			map[string]string{"Kraftfile": kraftfile, "Makefile": ukMakefile},
			Detection{Flavor: "unikraft", Source: "Kraftfile and a Unikraft Makefile (UK_ROOT)", Complete: true,
				Reason: "Kraftfile and a Unikraft Makefile (UK_ROOT): a Unikraft project, built with kraft build when kraft is installed, else make" + ukImage}},
		{"Kraftfile beats an ops config, a Go program and an ELF Makefile",
			map[string]string{"Kraftfile": kraftfile, "config.json": opsConfig, "main.go": mainGo, "go.mod": goMod, "Makefile": elfMakefile},
			Detection{Flavor: "unikraft", Source: "Kraftfile", Complete: true, Reason: "Kraftfile: a Unikraft project, built with kraft build" + ukImage}},
		{"ops config beats a Go program and an ELF Makefile",
			map[string]string{"config.json": opsConfig, "main.go": mainGo, "go.mod": goMod, "Makefile": elfMakefile},
			Detection{Flavor: "nanos", Source: "config.json", Complete: true, OpsConfig: "config.json", Image: "proj",
				BuildCommand: "CGO_ENABLED=0 go build -o proj .", Reason: "config.json is an ops config; program proj (named after the directory), built with go build"}},
		{"Go program beats an ELF Makefile",
			map[string]string{"main.go": mainGo, "go.mod": goMod, "Makefile": elfMakefile},
			Detection{Flavor: "linux", Source: "go.mod and main.go", Complete: true, Image: "app", Ports: []int{8080},
				BuildCommand: "CGO_ENABLED=0 go build -o app .", Reason: "main.go is a Go program, run by Linux as /init listening on port 8080"}},
		{"Go main package in another file, module above",
			map[string]string{"../go.mod": goMod, "server.go": mainGo, "util.go": "package main\n"},
			Detection{Flavor: "linux", Source: "server.go (module ../go.mod)", Complete: true, Image: "app", Ports: []int{8080},
				BuildCommand: "CGO_ENABLED=0 go build -o app .", Reason: "server.go is a Go program, run by Linux as /init listening on port 8080"}},
		{"Go main package without a module: incomplete",
			map[string]string{"main.go": mainGo},
			Detection{Flavor: "linux", Source: "main.go", Image: "app", Ports: []int{8080},
				BuildCommand: "CGO_ENABLED=0 go build -o app .", Reason: "main.go is a Go program, run by Linux as /init listening on port 8080; there is no go.mod: run `go mod init` first"}},
		{"go.mod of a library: the ELF Makefile decides",
			map[string]string{"go.mod": goMod, "lib.go": "package lib\n", "Makefile": elfMakefile},
			Detection{Flavor: "elf", Source: "Makefile", Complete: true, BuildCommand: "make", Image: "build/k.elf", Reason: "Makefile builds build/k.elf"}},
		{"a Makefile naming UK_ROOTS is not Unikraft's",
			map[string]string{"Makefile": "# MY_UK_ROOTS are unrelated\nall: build/k.elf\n"},
			Detection{Flavor: "elf", Source: "Makefile", Complete: true, BuildCommand: "make", Image: "build/k.elf", Reason: "Makefile builds build/k.elf"}},
		{"a Kraftfile that is a directory does not count",
			map[string]string{"Kraftfile/x": "", "Makefile": elfMakefile},
			Detection{Flavor: "elf", Source: "Makefile", Complete: true, BuildCommand: "make", Image: "build/k.elf", Reason: "Makefile builds build/k.elf"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "mod", "proj")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			files := map[string][]byte{}
			for name, content := range tt.files {
				files[name] = []byte(content)
			}
			writeFiles(t, dir, files)
			got := Detect(dir)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Detect = %+v\nwant     %+v", got, tt.want)
			}
			// The rendered file names the same flavor.
			if f := string(InitFile(got)); !strings.Contains(f, "flavor = \""+got.Flavor+"\"") {
				t.Errorf("InitFile does not name flavor %s:\n%s", got.Flavor, f)
			}
		})
	}
}

func TestDetectFlavor(t *testing.T) {
	const mainGo = "package main\n\nconst addr = \":8081\"\n\nfunc main() {}\n"
	tests := []struct {
		name   string
		files  map[string][]byte
		flavor string
		want   Detection
	}{
		{"no flavor is Detect", map[string][]byte{"main.go": []byte(mainGo), "go.mod": []byte("module web\n")}, "",
			Detection{Flavor: "linux", Source: "go.mod and main.go", Complete: true, Image: "app", Ports: []int{8081},
				BuildCommand: "CGO_ENABLED=0 go build -o app .", Reason: "main.go is a Go program, run by Linux as /init listening on port 8081"}},
		{"nanos for a Go program without an ops config", map[string][]byte{"main.go": []byte(mainGo), "go.mod": []byte("module web\n")}, "nanos",
			Detection{Flavor: "nanos", Source: "go.mod and main.go", Image: "web", Ports: []int{8081},
				BuildCommand: "CGO_ENABLED=0 go build -o web .", Reason: "main.go is a Go program, run by Nanos as web listening on port 8081"}},
		{"nanos with an ops config", map[string][]byte{"config.json": []byte(`{"Program": "srv"}`)}, "nanos",
			Detection{Flavor: "nanos", Source: "config.json", Complete: true, OpsConfig: "config.json", Image: "srv",
				Reason: "config.json is an ops config; program srv (its Program); set build.command"}},
		{"nanos with nothing", nil, "nanos",
			Detection{Flavor: "nanos", Image: "app", Reason: "flavor nanos chosen, but there is no ops config or Go program: set build.command and kernel.image"}},
		{"unikraft with nothing", map[string][]byte{"Makefile": []byte("all: k.elf\n")}, "unikraft",
			Detection{Flavor: "unikraft", Reason: "flavor unikraft chosen, but there is no Kraftfile or Unikraft Makefile: set build.command"}},
		{"elf in a Go project", map[string][]byte{"main.go": []byte(mainGo), "Makefile": []byte("all: build/k.elf\n")}, "elf",
			Detection{Flavor: "elf", Source: "Makefile", Complete: true, BuildCommand: "make", Image: "build/k.elf", Reason: "Makefile builds build/k.elf"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "web")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			writeFiles(t, dir, tt.files)
			got, err := DetectFlavor(dir, tt.flavor)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("DetectFlavor = %+v\nwant          %+v", got, tt.want)
			}
		})
	}
	t.Run("unknown flavor", func(t *testing.T) {
		if _, err := DetectFlavor(t.TempDir(), "osv"); err == nil || !strings.Contains(err.Error(), "not supported") {
			t.Fatalf("DetectFlavor(osv) error = %v", err)
		}
	})
	t.Run("linux with nothing", func(t *testing.T) {
		got, err := DetectFlavor(t.TempDir(), "linux")
		if err != nil || got.Flavor != "linux" || got.Image != "app" || got.Complete {
			t.Fatalf("DetectFlavor(linux) = %+v, %v", got, err)
		}
	})
}

// uncomment returns an InitFile output with the commented keys of the
// given section made real.
func uncomment(data []byte, section string) []byte {
	var b strings.Builder
	current := ""
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "[") {
			current = line
		}
		if rest, ok := strings.CutPrefix(line, "# "); ok && current == section && strings.Contains(rest, " = ") {
			line = rest
		}
		b.WriteString(line + "\n")
	}
	return []byte(b.String())
}

func TestInitFileUnikraft(t *testing.T) {
	d := Detection{Flavor: "unikraft", Source: "Kraftfile", Complete: true, Reason: "Kraftfile: a Unikraft project"}
	data := InitFile(d)
	c, err := Parse(filepath.Join(root, FileName), data)
	if err != nil {
		t.Fatalf("InitFile output does not parse: %v\n%s", err, data)
	}
	// The flavor picks the build command, the image and the memory.
	if c.Flavor != "unikraft" || c.Build.CommandSet || c.Build.Command != "" || c.Kernel.Image != "" || c.VM.MemorySet || len(c.Watch.Ignore) > 0 {
		t.Errorf("flavor %q command %q (set %v) image %q memory set %v ignore %q", c.Flavor, c.Build.Command, c.Build.CommandSet, c.Kernel.Image, c.VM.MemorySet, c.Watch.Ignore)
	}
	if c.Unikraft != (Unikraft{}) {
		t.Errorf("InitFile sets unikraft keys: %+v", c.Unikraft)
	}
	for _, section := range []string{"[build]", "[watch]", "[kernel]", "[vm]", "[logs]", "[unikraft]"} {
		if !strings.Contains(string(data), section+"\n") {
			t.Errorf("no %s section", section)
		}
	}
	c, err = Parse(filepath.Join(root, FileName), uncomment(data, "[unikraft]"))
	if err != nil {
		t.Fatalf("uncommented [unikraft] does not parse: %v\n%s", err, uncomment(data, "[unikraft]"))
	}
	if c.Unikraft != (Unikraft{}) {
		t.Errorf("uncommented [unikraft] = %+v, want the defaults", c.Unikraft)
	}
	if _, err := Parse(filepath.Join(root, FileName), uncomment(data, "[kernel]")); err != nil {
		t.Errorf("uncommented [kernel] does not parse: %v", err)
	}
	t.Run("an image given", func(t *testing.T) {
		c, err := Parse(filepath.Join(root, FileName), InitFile(Detection{Flavor: "unikraft", Image: "build/app_qemu-x86_64"}))
		if err != nil || c.Kernel.Image != root+"/build/app_qemu-x86_64" {
			t.Fatalf("image %q, %v", c.Kernel.Image, err)
		}
	})
}

func TestInitFileLinux(t *testing.T) {
	d := Detection{Flavor: "linux", Source: "go.mod and main.go", Complete: true, Image: "app", Ports: []int{8080, 9090},
		BuildCommand: "CGO_ENABLED=0 go build -o app .", Reason: "main.go is a Go program", LinuxKernelVersion: "v0.0.0-20260705070735-de680abf072b"}
	data := InitFile(d)
	for _, want := range []string{"flavor = \"linux\"", "[linux]\n", "kernel_version = \"v0.0.0-20260705070735-de680abf072b\"",
		"# kernel = \"\"", "ports = [\"8080:8080\", \"9090:9090\"]", "ignore = [\"/app\", \"/app-go-tmp-*\"]", "image = \"app\""} {
		if !strings.Contains(string(data), want) {
			t.Errorf("no %q in\n%s", want, data)
		}
	}
	if !strings.Contains(string(InitFile(Detection{Flavor: "linux"})), "# kernel_version = ") {
		t.Error("no commented kernel_version without a version to pin")
	}
	c, err := Parse(filepath.Join(root, FileName), data)
	if err != nil {
		t.Fatalf("InitFile output does not parse: %v\n%s", err, data)
	}
	if c.Flavor != "linux" || c.Build.Command != d.BuildCommand || c.Kernel.Image != root+"/app" || len(c.VM.Ports) != 2 || !c.VM.Network {
		t.Errorf("flavor %q command %q image %q ports %+v", c.Flavor, c.Build.Command, c.Kernel.Image, c.VM.Ports)
	}
	for _, section := range []string{"[linux]", "[kernel]"} {
		if _, err := Parse(filepath.Join(root, FileName), uncomment(data, section)); err != nil {
			t.Errorf("uncommented %s does not parse: %v\n%s", section, err, uncomment(data, section))
		}
	}
}
