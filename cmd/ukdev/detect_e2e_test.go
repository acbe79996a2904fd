package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// These end-to-end tests run the real binary in directories without a
// ukdev.toml, where ukdev decides the flavor from the files it finds and
// says so in one line, and cover ukdev init --template.

// envWithoutKraft returns env with PATH stripped of the directories that
// hold a kraft command, so that the unikraft flavor falls back to make.
func envWithoutKraft(t *testing.T, env []string) []string {
	t.Helper()
	var keep []string
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		if fi, err := os.Stat(filepath.Join(d, "kraft")); err == nil && !fi.IsDir() {
			continue
		}
		keep = append(keep, d)
	}
	return append(env, "PATH="+strings.Join(keep, string(filepath.ListSeparator)))
}

func TestDetectNoConfigE2E(t *testing.T) {
	const (
		elfMakefile = "all: build/k.elf\n\nbuild/k.elf:\n\tmkdir -p build\n\tprintf '\\177ELF' > $@\n"
		kraftfile   = "spec: v0.6\n\nname: k\n\nunikraft:\n  version: stable\n\ntargets:\n  - qemu/x86_64\n"
		// ukMakefile hands the build to a stand-in for Unikraft's build
		// system (uk/Makefile), as an application Makefile does.
		ukMakefile = "UK_ROOT ?= $(CURDIR)/uk\nLIBS :=\n\nall:\n\t@$(MAKE) -C $(UK_ROOT) A=$(CURDIR) L=$(LIBS)\n"
		fakeUK     = "all:\n\t@echo fake unikraft build of $(notdir $(A))\n"
		mainGo     = "package main\n\nimport \"net/http\"\n\nfunc main() { http.ListenAndServe(\":8082\", nil) }\n"
		goMod      = "module web\n\ngo 1.22\n"
	)
	tests := []struct {
		name  string
		files map[string]string
		sub   string // the directory ukdev runs in, relative to the fixture
		// wantErr are parts of stderr; the first is the decision line,
		// which must appear once.
		wantErr  []string
		notErr   []string // must not be in stderr
		wantCode int
		built    string // a file the build must make, "" for none
		slow     bool   // runs go build
	}{
		{name: "Makefile building an ELF: elf",
			files:   map[string]string{"Makefile": elfMakefile, "main.c": "int x;\n"},
			wantErr: []string{"ukdev: no ukdev.toml: elf project from Makefile, building with `make`, booting build/k.elf (`ukdev init` writes these settings to ukdev.toml)\n", "build ok"},
			built:   "build/k.elf"},
		{name: "Kraftfile without kraft: unikraft, built with make",
			files: map[string]string{"Kraftfile": kraftfile, "Makefile": ukMakefile, "uk/Makefile": fakeUK, "main.c": "int main(void) { return 0; }\n"},
			wantErr: []string{"ukdev: no ukdev.toml: unikraft project from Kraftfile and a Unikraft Makefile (UK_ROOT), building with `make",
				"(Kraftfile found but kraft is not installed: building with the Unikraft Makefile)", "building: make", "build ok"}},
		{name: "Kraftfile beats a Go program",
			files:    map[string]string{"Kraftfile": kraftfile, "main.go": mainGo, "go.mod": goMod},
			wantErr:  []string{"ukdev: no ukdev.toml: unikraft project from Kraftfile, building with `kraft build", "kraft is not installed"},
			wantCode: 127},
		{name: "ops config beats a Go program: nanos",
			files:   map[string]string{"config.json": `{"RunConfig": {"Ports": ["8082"]}}`, "main.go": mainGo, "go.mod": goMod},
			wantErr: []string{"ukdev: no ukdev.toml: nanos project from config.json, building with `CGO_ENABLED=0 go build -o proj .`, running proj (", "build ok"},
			built:   "proj", slow: true},
		{name: "Go program: linux",
			files:   map[string]string{"main.go": mainGo, "go.mod": goMod, "Makefile": elfMakefile},
			wantErr: []string{"ukdev: no ukdev.toml: linux project from go.mod and main.go, building with `CGO_ENABLED=0 go build -o app .`, running app as /init on Linux (", "build ok"},
			built:   "app", slow: true},
		{name: "ukdev.toml above beats a Kraftfile here",
			files: map[string]string{"ukdev.toml": "build.command = \"echo parent config\"\nkernel.image = \"k.elf\"\n", "sub/Kraftfile": kraftfile},
			sub:   "sub", wantErr: []string{"building: echo parent config", "build ok"}, notErr: []string{"no ukdev.toml"}},
		{name: "Makefile without a kernel: init asked for",
			files:    map[string]string{"Makefile": "all:\n\t$(CC) -o $(OUT) x.c\n"},
			wantErr:  []string{"no ukdev.toml in", "elf guess: Makefile found; set kernel.image", "run `ukdev init`"},
			notErr:   []string{"ukdev: no ukdev.toml:"},
			wantCode: 1},
		{name: "Go program without go.mod: init asked for",
			files:    map[string]string{"main.go": mainGo},
			wantErr:  []string{"no ukdev.toml in", "linux guess: main.go is a Go program", "go mod init", "run `ukdev init`"},
			wantCode: 1},
		{name: "nothing",
			files:    map[string]string{"README": "hi\n"},
			wantErr:  []string{"no ukdev.toml in", "run `ukdev init`"},
			wantCode: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.slow && testing.Short() {
				t.Skip("runs go build: skipped in -short mode")
			}
			if _, err := exec.LookPath("make"); err != nil {
				t.Skip("make is not installed")
			}
			dir := filepath.Join(newProject(t, "proj", tt.files), tt.sub)
			r := runCLI(t, dir, envWithoutKraft(t, testEnv(t)), "", "build")
			if r.code != tt.wantCode {
				t.Fatalf("ukdev build: exit %d, want %d\n%s", r.code, tt.wantCode, r)
			}
			for _, part := range tt.wantErr {
				if !strings.Contains(r.stderr, part) {
					t.Errorf("stderr does not say %q\n%s", part, r)
				}
			}
			for _, part := range tt.notErr {
				if strings.Contains(r.stderr, part) {
					t.Errorf("stderr says %q\n%s", part, r)
				}
			}
			if n := strings.Count(r.stderr, "ukdev: no ukdev.toml:"); n > 1 {
				t.Errorf("%d decision lines, want at most one\n%s", n, r)
			}
			if tt.built != "" {
				if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(tt.built))); err != nil {
					t.Errorf("the build made no %s: %v", tt.built, err)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "ukdev.toml")); tt.sub == "" && err == nil {
				t.Error("ukdev wrote a ukdev.toml without being asked to")
			}
		})
	}
}

func TestInitTemplateE2E(t *testing.T) {
	for _, tool := range []string{"make", "gcc"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	base := t.TempDir()
	env := testEnv(t)
	r := runCLI(t, base, env, "", "init", "--template", "hello-c", "x")
	if r.code != 0 || !strings.Contains(r.stderr, "created "+filepath.Join(base, "x")+" from template hello-c (flavor elf)") {
		t.Fatalf("ukdev init --template hello-c x\n%s", r)
	}
	r = runCLI(t, base, env, "", "build", "-C", "x")
	if r.code != 0 || strings.Contains(r.stderr, "no ukdev.toml") {
		t.Fatalf("ukdev build -C x\n%s", r)
	}
	if _, err := os.Stat(filepath.Join(base, "x", "build", "hello.elf")); err != nil {
		t.Errorf("ukdev build -C x made no kernel: %v", err)
	}

	t.Run("refusals", func(t *testing.T) {
		for _, tt := range []struct {
			args    []string
			wantErr string
		}{
			{[]string{"init", "--template", "hello-c", "x"}, "directory is not empty (use --force"},
			{[]string{"init", "--template", "cobol", "y"}, `"cobol": unknown template (known: hello-c, go-http-linux, go-http-nanos, unikraft)`},
			{[]string{"init", "--template", "unikraft", "--flavor", "elf", "y"}, "--flavor and --template do not go together"},
			{[]string{"init", "--flavor", "osv"}, `flavor "osv" is not supported`},
			{[]string{"init", "missing"}, "is not a directory"},
		} {
			r := runCLI(t, base, env, "", tt.args...)
			if r.code != 1 || !strings.Contains(r.stderr, tt.wantErr) {
				t.Errorf("ukdev %s: want exit 1 saying %q\n%s", strings.Join(tt.args, " "), tt.wantErr, r)
			}
		}
		if _, err := os.Stat(filepath.Join(base, "y")); err == nil {
			t.Error("a refused init created y")
		}
	})

	t.Run("force writes into a non-empty directory", func(t *testing.T) {
		r := runCLI(t, base, env, "", "init", "--force", "--template", "unikraft", "x")
		if r.code != 0 {
			t.Fatalf("ukdev init --force --template unikraft x\n%s", r)
		}
		if _, err := os.Stat(filepath.Join(base, "x", "Kraftfile")); err != nil {
			t.Errorf("no Kraftfile: %v", err)
		}
	})

	t.Run("init in a directory follows detection; --flavor overrides it", func(t *testing.T) {
		dir := newProject(t, "web", map[string]string{
			"main.go": "package main\n\nconst addr = \":8083\"\n\nfunc main() {}\n",
			"go.mod":  "module web\n",
		})
		r := runCLI(t, filepath.Dir(dir), env, "", "init", "web")
		if r.code != 0 || !strings.Contains(r.stderr, "linux project: main.go is a Go program, run by Linux as /init listening on port 8083") {
			t.Fatalf("ukdev init web\n%s", r)
		}
		data, err := os.ReadFile(filepath.Join(dir, "ukdev.toml"))
		if err != nil || !strings.Contains(string(data), `flavor = "linux"`) || !strings.Contains(string(data), `ports = ["8083:8083"]`) {
			t.Fatalf("ukdev.toml (%v):\n%s", err, data)
		}
		if _, err := os.Stat(filepath.Join(dir, "config.json")); err == nil {
			t.Error("a linux init wrote an ops config")
		}
		r = runCLI(t, dir, env, "", "init", "--force", "--flavor", "nanos")
		if r.code != 0 || !strings.Contains(r.stderr, "nanos project: main.go is a Go program, run by Nanos as web listening on port 8083") {
			t.Fatalf("ukdev init --flavor nanos\n%s", r)
		}
		if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
			t.Errorf("ukdev init --flavor nanos wrote no ops config: %v", err)
		}
	})
}
