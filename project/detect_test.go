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
			Detection{Flavor: "elf", BuildCommand: "make", Image: "build/hello.elf", Reason: "Makefile builds build/hello.elf"}},
		{"makefile naming an existing ELF without extension",
			map[string][]byte{"makefile": []byte("all: out/kernel\nout/kernel: k.o\n"), "out/kernel": elfFile(etExec), "k.o": elfFile(etRel)},
			Detection{Flavor: "elf", BuildCommand: "make", Image: "out/kernel", Reason: "makefile builds out/kernel"}},
		{"makefile and an ELF it does not name",
			map[string][]byte{"Makefile": []byte("all:\n\tcc -o $(OUT) x.c\n"), "deep/er/kern": elfFile(etExec)},
			Detection{Flavor: "elf", BuildCommand: "make", Image: "deep/er/kern", Reason: "Makefile found; deep/er/kern is an ELF executable"}},
		{"makefile only",
			map[string][]byte{"Makefile": []byte("all:\n\t$(CC) -o $(OUT)/k main.c\n"), "main.o": elfFile(etRel)},
			Detection{Flavor: "elf", BuildCommand: "make", Reason: "Makefile found; set kernel.image to the kernel it builds"}},
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
		want.VM.MemorySet = true // the uncommented default is given explicitly
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
			Detection{Flavor: "nanos", OpsConfig: "config.json", Image: "bin/server", BuildCommand: "CGO_ENABLED=0 go build -o bin/server .",
				Reason: "config.json is an ops config; program bin/server (its Program), built with go build"}},
		{"ops config without Program: the directory names the program", "my svc",
			map[string][]byte{"config.json": []byte(`{"args": ["-v"], "env": {"A": "1"}}`), "main.go": []byte(mainGo)},
			Detection{Flavor: "nanos", OpsConfig: "config.json", Image: "my-svc", BuildCommand: "CGO_ENABLED=0 go build -o my-svc .",
				Reason: "config.json is an ops config; program my-svc (named after the directory), built with go build"}},
		{"ops config with a Program outside the project", "proj",
			map[string][]byte{"config.json": []byte(`{"Program": "/usr/local/bin/daemon"}`), "Makefile": []byte("all:\n\tcc -o daemon d.c\n")},
			Detection{Flavor: "nanos", OpsConfig: "config.json", Image: "daemon", BuildCommand: "make",
				Reason: "config.json is an ops config; program daemon (its Program), built by Makefile"}},
		{"empty ops config, nothing to build", ".hidden",
			map[string][]byte{"config.json": []byte(`{}`)},
			Detection{Flavor: "nanos", OpsConfig: "config.json", Image: "hidden",
				Reason: "config.json is an ops config; program hidden (named after the directory); set build.command"}},
		{"main.go and no config: ports from listen addresses", "web",
			map[string][]byte{"main.go": []byte(mainGo), "more.go": []byte("package main\n\nconst (\n\ta = \"0.0.0.0:9090\"\n\tb = `[::]:8080`\n\tc = \"127.0.0.1:7070\"\n\td = \"12:30\"\n\te = \":99999\"\n)\n"),
				"x_test.go": []byte("package main\n\nconst t = \":6060\"\n")},
			Detection{Flavor: "nanos", Image: "web", BuildCommand: "CGO_ENABLED=0 go build -o web .", Ports: []int{8080, 9090},
				Reason: "main.go is a Go program, run by Nanos as web listening on ports 8080, 9090"}},
		{"main.go without a listen address", "tool",
			map[string][]byte{"main.go": []byte("package main\n\nfunc main() { println(\"hi\") }\n")},
			Detection{Flavor: "nanos", Image: "tool", BuildCommand: "CGO_ENABLED=0 go build -o tool .",
				Reason: "main.go is a Go program, run by Nanos as tool"}},
		{"main.go of another package is not a program", "lib",
			map[string][]byte{"main.go": []byte("package lib\n")},
			Detection{Flavor: "elf", Reason: "no Makefile or ELF kernel found; set build.command and kernel.image"}},
		{"config.json of another tool", "web",
			map[string][]byte{"config.json": []byte(`{"compilerOptions": {}}`), "Makefile": []byte("all: build/k.elf\n")},
			Detection{Flavor: "elf", BuildCommand: "make", Image: "build/k.elf", Reason: "Makefile builds build/k.elf"}},
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
		{"program in a subdirectory", Detection{Flavor: "nanos", OpsConfig: "config.json", Image: "bin/server", BuildCommand: "make"},
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
