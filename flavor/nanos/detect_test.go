package nanos_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	_ "github.com/ukdev/ukdev/flavor/all"
	"github.com/ukdev/ukdev/flavor/nanos"
	"github.com/ukdev/ukdev/project"
	"github.com/ukdev/ukdev/project/projecttest"
)

func TestDetectNanos(t *testing.T) {
	const mainGo = "package main\n\nimport \"net/http\"\n\nfunc main() { http.ListenAndServe(\":8080\", nil) }\n"
	tests := []struct {
		name  string
		dir   string // the project directory's name
		files map[string][]byte
		want  project.Detection
	}{
		{"ops config with Program, Go module", "proj",
			map[string][]byte{"config.json": []byte(`{"Program": "./bin/server", "RunConfig": {"Ports": ["80"]}}`), "go.mod": []byte("module x\n")},
			project.Detection{Flavor: "nanos", Source: "config.json", Complete: true, Image: "bin/server", BuildCommand: "CGO_ENABLED=0 go build -o bin/server .",
				Reason: "config.json is an ops config; program bin/server (its Program), built with go build"}},
		{"ops config without Program: the directory names the program", "my svc",
			map[string][]byte{"config.json": []byte(`{"args": ["-v"], "env": {"A": "1"}}`), "main.go": []byte(mainGo)},
			project.Detection{Flavor: "nanos", Source: "config.json", Complete: true, Image: "my-svc", BuildCommand: "CGO_ENABLED=0 go build -o my-svc .",
				Reason: "config.json is an ops config; program my-svc (named after the directory), built with go build"}},
		{"ops config with a Program outside the project", "proj",
			map[string][]byte{"config.json": []byte(`{"Program": "/usr/local/bin/daemon"}`), "Makefile": []byte("all:\n\tcc -o daemon d.c\n")},
			project.Detection{Flavor: "nanos", Source: "config.json", Complete: true, Image: "daemon", BuildCommand: "make",
				Reason: "config.json is an ops config; program daemon (its Program), built by Makefile"}},
		{"empty ops config, nothing to build", ".hidden",
			map[string][]byte{"config.json": []byte(`{}`)},
			project.Detection{Flavor: "nanos", Source: "config.json", Complete: true, Image: "hidden",
				Reason: "config.json is an ops config; program hidden (named after the directory); set build.command"}},
		{"main.go and no config: a linux program, ports from listen addresses", "web",
			map[string][]byte{"main.go": []byte(mainGo), "more.go": []byte("package main\n\nconst (\n\ta = \"0.0.0.0:9090\"\n\tb = `[::]:8080`\n\tc = \"127.0.0.1:7070\"\n\td = \"12:30\"\n\te = \":99999\"\n)\n"),
				"x_test.go": []byte("package main\n\nconst t = \":6060\"\n")},
			project.Detection{Flavor: "linux", Source: "main.go", Image: "app", BuildCommand: "CGO_ENABLED=0 go build -o app .", Ports: []int{8080, 9090},
				Reason: "main.go is a Go program, run by Linux as /init listening on ports 8080, 9090; there is no go.mod: run `go mod init` first"}},
		{"main.go without a listen address, in a module", "tool",
			map[string][]byte{"main.go": []byte("package main\n\nfunc main() { println(\"hi\") }\n"), "go.mod": []byte("module tool\n")},
			project.Detection{Flavor: "linux", Source: "go.mod and main.go", Complete: true, Image: "app", BuildCommand: "CGO_ENABLED=0 go build -o app .",
				Reason: "main.go is a Go program, run by Linux as /init"}},
		{"main.go of another package is not a program", "lib",
			map[string][]byte{"main.go": []byte("package lib\n")},
			project.Detection{Flavor: "elf", Reason: "no Makefile or ELF kernel found; set build.command and kernel.image"}},
		{"config.json of another tool", "web",
			map[string][]byte{"config.json": []byte(`{"compilerOptions": {}}`), "Makefile": []byte("all: build/k.elf\n")},
			project.Detection{Flavor: "elf", Source: "Makefile", Complete: true, BuildCommand: "make", Image: "build/k.elf", Reason: "Makefile builds build/k.elf"}},
		{"config.json that is not an object", "web",
			map[string][]byte{"config.json": []byte(`["Args"]`)},
			project.Detection{Flavor: "elf", Reason: "no Makefile or ELF kernel found; set build.command and kernel.image"}},
		{"broken config.json", "web",
			map[string][]byte{"config.json": []byte(`{"Args": [`)},
			project.Detection{Flavor: "elf", Reason: "no Makefile or ELF kernel found; set build.command and kernel.image"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), tt.dir)
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			projecttest.WriteFiles(t, dir, tt.files)
			got := project.Detect(dir)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Detect = %+v\nwant     %+v", got, tt.want)
			}
		})
	}
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
		d    project.Detection
		want *opsFile // nil: no file
	}{
		{"ports", project.Detection{Flavor: "nanos", Image: "web", Ports: []int{8080, 9090}},
			&opsFile{Program: "web", Args: []string{}, Env: map[string]string{}, RunConfig: &runConfig{Ports: []string{"8080", "9090"}}}},
		{"no ports", project.Detection{Flavor: "nanos", Image: "tool"},
			&opsFile{Program: "tool", Args: []string{}, Env: map[string]string{}}},
		{"no program", project.Detection{Flavor: "nanos"},
			&opsFile{Program: "app", Args: []string{}, Env: map[string]string{}}},
		{"elf", project.Detection{Flavor: "elf", Image: "k.elf", Ports: []int{80}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			extras := project.InitExtras(tt.d)
			if tt.want == nil {
				if extras != nil {
					t.Fatalf("InitExtras = %+v, want nil", extras)
				}
				return
			}
			if len(extras) != 1 || extras[0].Name != nanos.OpsConfigName {
				t.Fatalf("InitExtras = %+v, want one %s", extras, nanos.OpsConfigName)
			}
			data := extras[0].Data
			if !bytes.Equal(data, nanos.OpsConfigFile(tt.d)) {
				t.Errorf("InitExtras wrote %s, not OpsConfigFile's", data)
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
			projecttest.WriteFiles(t, dir, map[string][]byte{nanos.OpsConfigName: data})
			if d := project.Detect(dir); d.Flavor != "nanos" || d.Source != nanos.OpsConfigName || d.Image != got.Program {
				t.Errorf("Detect on the written config = %+v", d)
			}
		})
	}
}
