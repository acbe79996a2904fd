package main

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ukdev/ukdev/flavor/nanos/ops"
)

// nanosBanner is examples/nanos-http's banner as committed.
const nanosBanner = "hello from nanos"

// nanosWait bounds a Go build plus a Nanos boot under TCG: a few seconds
// each here, the margin is for a cold build cache on a loaded machine.
const nanosWait = 3 * time.Minute

// nanosKernel finds a Nanos kernel on this machine and returns the
// [nanos] key that makes ukdev boot it: kernel = the kernel.img
// UKDEV_NANOS_KERNEL names, else version = ops' cache's latest release
// (or, without latest.txt, its last one). It skips the test, saying how
// to enable it, when there is none.
func nanosKernel(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("UKDEV_NANOS_KERNEL"); p != "" {
		abs, err := filepath.Abs(p)
		if err == nil {
			_, err = os.Stat(abs)
		}
		if err != nil {
			t.Fatalf("UKDEV_NANOS_KERNEL=%s: %v", p, err)
		}
		return fmt.Sprintf("kernel = %q", abs)
	}
	home, err := ops.Home()
	if err != nil {
		t.Skipf("no Nanos kernel: UKDEV_NANOS_KERNEL is not set and ops' home is unknown (%v); "+
			"set UKDEV_NANOS_KERNEL to a kernel.img to run this test", err)
	}
	cache := ops.Cache{Home: home}
	versions, err := cache.Versions()
	if err != nil {
		t.Fatal(err)
	}
	if len(versions) == 0 {
		t.Skipf("no Nanos kernel: UKDEV_NANOS_KERNEL is not set and ops' kernel cache %s holds no release; "+
			"run `ukdev kernel fetch` (or `ops update`), or set UKDEV_NANOS_KERNEL to a kernel.img, to run this test", home)
	}
	k, err := cache.FindKernel("")
	if err != nil {
		k, err = cache.FindKernel(versions[len(versions)-1])
	}
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("version = %q", k.Version)
}

// needNanos skips in -short mode and without a Nanos kernel, fails when
// QEMU or Go is missing, and returns the [nanos] key naming the kernel.
func needNanos(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: skipped in -short mode")
	}
	key := nanosKernel(t)
	needTools(t, "qemu-system-x86_64", "go")
	return key
}

// copyGoExample copies examples/<name>, a Go program, without its build output,
// into a new temporary directory, with a go.mod of its own: outside this
// repository it is a module by itself.
func copyGoExample(t *testing.T, name string) string {
	t.Helper()
	dst := copyExampleDir(t, name, func(rel string, d fs.DirEntry) bool {
		return rel == "app" || !d.IsDir() && !d.Type().IsRegular()
	})
	// Outside the repository the example needs a module of its own.
	writeFile(t, filepath.Join(dst, "go.mod"), "module example\n\ngo 1.24\n")
	return dst
}

// setNanosPort makes the copy listen on port and forward it (host port =
// guest port), by rewriting config.json's Args and RunConfig.Ports.
func setNanosPort(t *testing.T, dir string, port int) {
	t.Helper()
	path := filepath.Join(dir, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	rc, ok := cfg["RunConfig"].(map[string]any)
	if !ok {
		t.Fatalf("%s has no RunConfig object", path)
	}
	cfg["Args"] = []string{"-addr", fmt.Sprintf(":%d", port)}
	rc["Ports"] = []string{strconv.Itoa(port)}
	out, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, string(out)+"\n")
}

// setGoBanner rewrites the `const banner = "..."` line of main.go.
func setGoBanner(t *testing.T, dir, banner string) {
	t.Helper()
	setLine(t, filepath.Join(dir, "main.go"), "const banner = ", strconv.Quote(banner))
}

// waitHTTP polls url until it answers 200 with want as its body, or fails
// after within. The guest's network comes up after its first console
// lines, so early requests may be refused or reset.
func waitHTTP(t *testing.T, url, want string, within time.Duration) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(within)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	last := "no answer yet"
	for {
		resp, err := client.Get(url)
		if err == nil {
			body, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil && resp.StatusCode == http.StatusOK && strings.TrimSpace(string(body)) == want {
				return
			}
			last = fmt.Sprintf("%s: %q (read error %v)", resp.Status, body, rerr)
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s did not answer %q within %s; last: %s", url, want, within, last)
		}
		<-tick.C // polling the port: there is no event to wait on
	}
}

// nanosProject is examples/nanos-http set to listen on and forward port,
// booting the Nanos kernel this machine has; it skips without one.
func nanosProject(t *testing.T, port int) string {
	kernelKey := needNanos(t)
	dir := copyGoExample(t, "nanos-http")
	setNanosPort(t, dir, port)
	toml, err := os.ReadFile(filepath.Join(dir, "ukdev.toml"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "ukdev.toml"), fmt.Sprintf("%s\n[nanos]\n%s\n", toml, kernelKey))
	return dir
}

// TestNanosInitAndNoConfig covers ukdev init in Nanos projects and ukdev
// in a directory with an ops config but no ukdev.toml. ukdev build is the
// command run: it needs the config, not a kernel.
func TestNanosInitAndNoConfig(t *testing.T) {
	const mainGo = "package main\n\nimport (\n\t\"fmt\"\n\t\"net/http\"\n)\n\nfunc main() {\n\tfmt.Println(\"up\")\n\thttp.ListenAndServe(\":8081\", nil)\n}\n"
	const goMod = "module web\n\ngo 1.24\n"
	tests := []struct {
		name  string
		files map[string]string
		args  []string
		// wantFiles are files that must exist afterwards, with these
		// contents ("" checks only that they exist).
		wantFiles map[string]string
		wantErr   []string // parts of stderr
		wantCode  int
		// built is the program ukdev build must have produced, "" for no
		// build.
		built string
	}{
		{name: "init --flavor nanos writes a config for main.go", args: []string{"init", "--flavor", "nanos"},
			files:     map[string]string{"main.go": mainGo, "go.mod": goMod},
			wantFiles: map[string]string{"ukdev.toml": "", "config.json": "{\n  \"Program\": \"web\",\n  \"Args\": [],\n  \"Env\": {},\n  \"RunConfig\": {\n    \"Ports\": [\n      \"8081\"\n    ]\n  }\n}\n"},
			wantErr:   []string{"nanos project: main.go is a Go program, run by Nanos as web listening on port 8081", "wrote", "config.json"}},
		{name: "init keeps an existing ops config", args: []string{"init"},
			files:     map[string]string{"main.go": mainGo, "go.mod": goMod, "config.json": `{"Program": "srv", "Env": {"A": "1"}}`},
			wantFiles: map[string]string{"ukdev.toml": "", "config.json": `{"Program": "srv", "Env": {"A": "1"}}`},
			wantErr:   []string{"nanos project: config.json is an ops config; program srv (its Program), built with go build"}},
		{name: "no ukdev.toml: built from the ops config", args: []string{"build"},
			files:     map[string]string{"main.go": mainGo, "go.mod": goMod, "config.json": `{"RunConfig": {"Ports": ["8081"]}}`},
			wantFiles: map[string]string{"config.json": `{"RunConfig": {"Ports": ["8081"]}}`},
			wantErr:   []string{"ukdev: no ukdev.toml: nanos project from config.json, building with `CGO_ENABLED=0 go build -o web .`"},
			built:     "web"},
		// Without an ops config a Go program is the whole userland of a
		// Linux VM.
		{name: "no ukdev.toml and no ops config: linux", args: []string{"build"},
			files:   map[string]string{"main.go": mainGo, "go.mod": goMod},
			wantErr: []string{"ukdev: no ukdev.toml: linux project from go.mod and main.go, building with `CGO_ENABLED=0 go build -o app .`"},
			built:   "app"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.built != "" && testing.Short() {
				t.Skip("runs go build: skipped in -short mode")
			}
			dir := newProject(t, "web", tt.files)
			r := runCLI(t, dir, testEnv(t), "", tt.args...)
			if r.code != tt.wantCode {
				t.Fatalf("ukdev %s: exit %d, want %d\n%s", strings.Join(tt.args, " "), r.code, tt.wantCode, r)
			}
			for _, part := range tt.wantErr {
				if !strings.Contains(r.stderr, part) {
					t.Errorf("stderr does not say %q\n%s", part, r)
				}
			}
			for name, want := range tt.wantFiles {
				got, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				if want != "" && string(got) != want {
					t.Errorf("%s =\n%s\nwant\n%s", name, got, want)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "ukdev.toml")); tt.args[0] != "init" && err == nil {
				t.Error("ukdev wrote a ukdev.toml without being asked to")
			}
			if tt.built != "" {
				if _, err := os.Stat(filepath.Join(dir, tt.built)); err != nil {
					t.Errorf("the build made no %s: %v", tt.built, err)
				}
			}
		})
	}

	t.Run("the written files build", func(t *testing.T) {
		if testing.Short() {
			t.Skip("runs go build: skipped in -short mode")
		}
		dir := newProject(t, "web", map[string]string{"main.go": mainGo, "go.mod": goMod})
		env := testEnv(t)
		for _, args := range [][]string{{"init", "--flavor", "nanos"}, {"build"}} {
			if r := runCLI(t, dir, env, "", args...); r.code != 0 {
				t.Fatalf("ukdev %s\n%s", args[0], r)
			}
		}
		if _, err := os.Stat(filepath.Join(dir, "web")); err != nil {
			t.Errorf("ukdev build with the written ukdev.toml made no program: %v", err)
		}
	})
}

// TestNanosExampleBuilds checks that examples/nanos-http builds with its
// own ukdev.toml, in place, as its README says.
func TestNanosExampleBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go build: skipped in -short mode")
	}
	dir := copyGoExample(t, "nanos-http")
	r := runCLI(t, dir, testEnv(t), "", "build")
	if r.code != 0 {
		t.Fatalf("ukdev build\n%s", r)
	}
	if _, err := os.Stat(filepath.Join(dir, "app")); err != nil {
		t.Errorf("ukdev build made no app: %v", err)
	}
}
