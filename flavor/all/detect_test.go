package all_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	_ "github.com/ukdev/ukdev/flavor/all"
	"github.com/ukdev/ukdev/project"
	"github.com/ukdev/ukdev/project/projecttest"
)

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
		want  project.Detection
	}{
		{"Kraftfile",
			map[string]string{"Kraftfile": kraftfile},
			project.Detection{Flavor: "unikraft", Source: "Kraftfile", Complete: true, Reason: "Kraftfile: a Unikraft project, built with kraft build" + ukImage}},
		{"kraft.yaml",
			map[string]string{"kraft.yaml": kraftfile},
			project.Detection{Flavor: "unikraft", Source: "kraft.yaml", Complete: true, Reason: "kraft.yaml: a Unikraft project, built with kraft build" + ukImage}},
		{"Unikraft Makefile with UK_ROOT",
			map[string]string{"Makefile": ukMakefile, "main.c": "int main(void) { return 0; }\n"},
			project.Detection{Flavor: "unikraft", Source: "a Unikraft Makefile (UK_ROOT)", Complete: true,
				Reason: "Makefile hands the build to Unikraft's (UK_ROOT, A=, L=): a Unikraft application, built with make" + ukImage}},
		{"Unikraft Makefile with A= only",
			map[string]string{"GNUmakefile": ukMakeOnly},
			project.Detection{Flavor: "unikraft", Source: "a Unikraft GNUmakefile (UK_ROOT)", Complete: true,
				Reason: "GNUmakefile hands the build to Unikraft's (UK_ROOT, A=, L=): a Unikraft application, built with make" + ukImage}},
		{"Kraftfile and Unikraft Makefile",
			map[string]string{"Kraftfile": kraftfile, "Makefile": ukMakefile},
			project.Detection{Flavor: "unikraft", Source: "Kraftfile and a Unikraft Makefile (UK_ROOT)", Complete: true,
				Reason: "Kraftfile and a Unikraft Makefile (UK_ROOT): a Unikraft project, built with kraft build when kraft is installed, else make" + ukImage}},
		{"Kraftfile beats an ops config, a Go program and an ELF Makefile",
			map[string]string{"Kraftfile": kraftfile, "config.json": opsConfig, "main.go": mainGo, "go.mod": goMod, "Makefile": elfMakefile},
			project.Detection{Flavor: "unikraft", Source: "Kraftfile", Complete: true, Reason: "Kraftfile: a Unikraft project, built with kraft build" + ukImage}},
		{"ops config beats a Go program and an ELF Makefile",
			map[string]string{"config.json": opsConfig, "main.go": mainGo, "go.mod": goMod, "Makefile": elfMakefile},
			project.Detection{Flavor: "nanos", Source: "config.json", Complete: true, Image: "proj",
				BuildCommand: "CGO_ENABLED=0 go build -o proj .", Reason: "config.json is an ops config; program proj (named after the directory), built with go build"}},
		{"Go program beats an ELF Makefile",
			map[string]string{"main.go": mainGo, "go.mod": goMod, "Makefile": elfMakefile},
			project.Detection{Flavor: "linux", Source: "go.mod and main.go", Complete: true, Image: "app", Ports: []int{8080},
				BuildCommand: "CGO_ENABLED=0 go build -o app .", Reason: "main.go is a Go program, run by Linux as /init listening on port 8080"}},
		{"Go main package in another file, module above",
			map[string]string{"../go.mod": goMod, "server.go": mainGo, "util.go": "package main\n"},
			project.Detection{Flavor: "linux", Source: "server.go (module ../go.mod)", Complete: true, Image: "app", Ports: []int{8080},
				BuildCommand: "CGO_ENABLED=0 go build -o app .", Reason: "server.go is a Go program, run by Linux as /init listening on port 8080"}},
		{"Go main package without a module: incomplete",
			map[string]string{"main.go": mainGo},
			project.Detection{Flavor: "linux", Source: "main.go", Image: "app", Ports: []int{8080},
				BuildCommand: "CGO_ENABLED=0 go build -o app .", Reason: "main.go is a Go program, run by Linux as /init listening on port 8080; there is no go.mod: run `go mod init` first"}},
		{"go.mod of a library: the ELF Makefile decides",
			map[string]string{"go.mod": goMod, "lib.go": "package lib\n", "Makefile": elfMakefile},
			project.Detection{Flavor: "elf", Source: "Makefile", Complete: true, BuildCommand: "make", Image: "build/k.elf", Reason: "Makefile builds build/k.elf"}},
		{"a Makefile naming UK_ROOTS is not Unikraft's",
			map[string]string{"Makefile": "# MY_UK_ROOTS are unrelated\nall: build/k.elf\n"},
			project.Detection{Flavor: "elf", Source: "Makefile", Complete: true, BuildCommand: "make", Image: "build/k.elf", Reason: "Makefile builds build/k.elf"}},
		{"a Kraftfile that is a directory does not count",
			map[string]string{"Kraftfile/x": "", "Makefile": elfMakefile},
			project.Detection{Flavor: "elf", Source: "Makefile", Complete: true, BuildCommand: "make", Image: "build/k.elf", Reason: "Makefile builds build/k.elf"}},
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
			projecttest.WriteFiles(t, dir, files)
			got := project.Detect(dir)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Detect = %+v\nwant     %+v", got, tt.want)
			}
			// The rendered file names the same flavor.
			if f := string(project.InitFile(got)); !strings.Contains(f, "flavor = \""+got.Flavor+"\"") {
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
		want   project.Detection
	}{
		{"no flavor is Detect", map[string][]byte{"main.go": []byte(mainGo), "go.mod": []byte("module web\n")}, "",
			project.Detection{Flavor: "linux", Source: "go.mod and main.go", Complete: true, Image: "app", Ports: []int{8081},
				BuildCommand: "CGO_ENABLED=0 go build -o app .", Reason: "main.go is a Go program, run by Linux as /init listening on port 8081"}},
		{"nanos for a Go program without an ops config", map[string][]byte{"main.go": []byte(mainGo), "go.mod": []byte("module web\n")}, "nanos",
			project.Detection{Flavor: "nanos", Source: "go.mod and main.go", Image: "web", Ports: []int{8081},
				BuildCommand: "CGO_ENABLED=0 go build -o web .", Reason: "main.go is a Go program, run by Nanos as web listening on port 8081"}},
		{"nanos with an ops config", map[string][]byte{"config.json": []byte(`{"Program": "srv"}`)}, "nanos",
			project.Detection{Flavor: "nanos", Source: "config.json", Complete: true, Image: "srv",
				Reason: "config.json is an ops config; program srv (its Program); set build.command"}},
		{"nanos with nothing", nil, "nanos",
			project.Detection{Flavor: "nanos", Image: "app", Reason: "flavor nanos chosen, but there is no ops config or Go program: set build.command and kernel.image"}},
		{"unikraft with nothing", map[string][]byte{"Makefile": []byte("all: k.elf\n")}, "unikraft",
			project.Detection{Flavor: "unikraft", Reason: "flavor unikraft chosen, but there is no Kraftfile or Unikraft Makefile: set build.command"}},
		{"elf in a Go project", map[string][]byte{"main.go": []byte(mainGo), "Makefile": []byte("all: build/k.elf\n")}, "elf",
			project.Detection{Flavor: "elf", Source: "Makefile", Complete: true, BuildCommand: "make", Image: "build/k.elf", Reason: "Makefile builds build/k.elf"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "web")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			projecttest.WriteFiles(t, dir, tt.files)
			got, err := project.DetectFlavor(dir, tt.flavor)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("DetectFlavor = %+v\nwant          %+v", got, tt.want)
			}
		})
	}
	t.Run("unknown flavor", func(t *testing.T) {
		if _, err := project.DetectFlavor(t.TempDir(), "osv"); err == nil || !strings.Contains(err.Error(), "not supported") {
			t.Fatalf("project.DetectFlavor(osv) error = %v", err)
		}
	})
	t.Run("linux with nothing", func(t *testing.T) {
		got, err := project.DetectFlavor(t.TempDir(), "linux")
		if err != nil || got.Flavor != "linux" || got.Image != "app" || got.Complete {
			t.Fatalf("project.DetectFlavor(linux) = %+v, %v", got, err)
		}
	})
}
