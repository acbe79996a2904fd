package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ukdev/ukdev/devloop"
	"github.com/ukdev/ukdev/flavor/nanos/nanosimg"
	"github.com/ukdev/ukdev/flavor/nanos/ops"
)

const (
	// imageWriteTargetMS is the target for writing the image of
	// an 8 MB Go program.
	imageWriteTargetMS = 60
	// dummyKernelBytes is the size of the stand-in kernel.img, about a
	// real one's.
	dummyKernelBytes = 5 << 20
	// opsRuns is the number of `ops run` boots timed: each one also
	// builds an image, and a few are enough to compare.
	opsRuns = 5
	// nanosBeyondBareTargetMS is the target for save → the program's
	// banner without the build, beyond a bare QEMU boot of the same image
	// and argv, medians.
	nanosBeyondBareTargetMS = 30
	// opsRatioTarget is the target for `ops run` over ukdev's reload
	// without its build, medians.
	opsRatioTarget = 3
)

// Names of the Nanos reload targets, printed measured or skipped.
var (
	nanosBareTarget = fmt.Sprintf("Nanos: save → program's banner − build ≤ bare QEMU (same image, same argv) + %d ms, medians", nanosBeyondBareTargetMS)
	nanosOpsTarget  = fmt.Sprintf("Nanos: ukdev (image + boot → banner) ≥ %d× faster than ops run, medians", opsRatioTarget)
)

// nanosOptions configure the Nanos part of the benchmark.
type nanosOptions struct {
	ukdev, example string
	// kernel is a kernel.img to boot; "" means ops' kernel cache.
	kernel        string
	writes, edits int
	verbose       bool
}

// runNanos times image writes of the example's program, then, when a
// Nanos kernel is installed, reloads under ukdev and boots under `ops
// run`, and prints what it measured or why it skipped a part.
func runNanos(w io.Writer, o nanosOptions) error {
	if o.writes < 1 {
		return fmt.Errorf("bench: -writes must be at least 1, got %d", o.writes)
	}
	tmp, err := os.MkdirTemp("", "ukbench-nanos")
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	defer os.RemoveAll(tmp)

	program := filepath.Join(tmp, "app")
	build := exec.Command("go", "build", "-o", program, ".")
	build.Dir = o.example
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("bench: build %s: %w\n%s", o.example, err, out)
	}
	writes, st, err := benchImageWrites(tmp, program, o.writes)
	if err != nil {
		return err
	}
	fi, err := os.Stat(program)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}

	fmt.Fprintf(w, "\nNanos image writes: %d writes of an image holding %s's program (%.1f MB, static Go) and a %d MB dummy kernel\n",
		len(writes), o.example, float64(fi.Size())/1e6, dummyKernelBytes>>20)
	fmt.Fprintf(w, "  image %.1f MB (sparse), %d files\n", float64(st.Bytes)/1e6, st.Files)
	printTable(w, row{"nanosimg.Write", writes})
	addTarget(w, fmt.Sprintf("Nanos image written in < %d ms for an 8 MB Go program", imageWriteTargetMS),
		fmt.Sprintf("%.1f ms median for %.1f MB", median(writes), float64(fi.Size())/1e6), median(writes) < imageWriteTargetMS)

	key, why := nanosKernelKey(o.kernel)
	if key == "" {
		fmt.Fprintf(w, "\nNanos reload: skipped: %s\n", why)
		skipTarget(w, nanosBareTarget, why)
		skipTarget(w, nanosOpsTarget, why)
		return nil
	}
	return benchNanosReload(w, o, key, why)
}

// benchImageWrites writes the same image n times to one file, as each
// reload does, and returns each write's time in ms and the last Stats.
func benchImageWrites(dir, program string, n int) ([]float64, nanosimg.Stats, error) {
	kernelImg := filepath.Join(dir, "kernel.img")
	// Random bytes: a file of zeros could be cheaper to copy than a kernel.
	dummy := make([]byte, dummyKernelBytes)
	rng := rand.NewChaCha8([32]byte{'u', 'k', 'd', 'e', 'v'})
	if _, err := rng.Read(dummy); err != nil {
		return nil, nanosimg.Stats{}, fmt.Errorf("bench: %w", err)
	}
	if err := os.WriteFile(kernelImg, dummy, 0o644); err != nil {
		return nil, nanosimg.Stats{}, fmt.Errorf("bench: %w", err)
	}
	root := nanosimg.NewTuple()
	root.Set("program", "/app")
	root.Set("arguments", nanosimg.Vector{"app", "-addr", ":8080"})
	env := nanosimg.NewTuple()
	env.Set("PWD", "/")
	env.Set("USER", "root")
	root.Set("environment", env)
	root.Set("debug_exit", "t")
	spec := nanosimg.Spec{
		Kernel: kernelImg,
		Files: []nanosimg.File{
			{Path: "/app", Host: program},
			{Path: "/etc/resolv.conf", Data: []byte("nameserver 10.0.2.3\n")},
			{Path: "/etc/passwd", Data: []byte("root:x:0:0:root:/root:/bin/nobody\n")},
			{Path: "/proc/sys/kernel/hostname", Data: []byte("app\n")},
		},
		Root: root,
	}
	dst := filepath.Join(dir, "disk.img")
	var times []float64
	var st nanosimg.Stats
	for i := 0; i < n; i++ {
		start := time.Now()
		var err error
		if st, err = nanosimg.Write(dst, spec); err != nil {
			return nil, st, fmt.Errorf("bench: image write %d: %w", i+1, err)
		}
		times = append(times, ms(time.Since(start)))
	}
	return times, st, nil
}

// nanosKernelKey returns the ukdev.toml [nanos] key that boots an
// installed Nanos kernel (kernel = path, or version = the cache's), and
// where it was found; or "" and why there is none.
func nanosKernelKey(explicit string) (key, why string) {
	if explicit != "" {
		abs, err := filepath.Abs(explicit)
		if err == nil {
			_, err = os.Stat(abs)
		}
		if err != nil {
			return "", fmt.Sprintf("the Nanos kernel %s cannot be used: %v", explicit, err)
		}
		return fmt.Sprintf("kernel = %q", abs), abs
	}
	home, err := ops.Home()
	if err != nil {
		return "", fmt.Sprintf("no Nanos kernel: %v (set UKDEV_NANOS_KERNEL or -nanos-kernel to a kernel.img)", err)
	}
	cache := ops.Cache{Home: home}
	versions, err := cache.Versions()
	if err != nil || len(versions) == 0 {
		return "", fmt.Sprintf("no Nanos kernel in ops' kernel cache %s and UKDEV_NANOS_KERNEL is not set "+
			"(`ukdev kernel fetch` or `ops update` installs one)", home)
	}
	k, err := cache.FindKernel("")
	if err != nil {
		k, err = cache.FindKernel(versions[len(versions)-1])
	}
	if err != nil {
		return "", fmt.Sprintf("no usable Nanos kernel in %s: %v", home, err)
	}
	return fmt.Sprintf("version = %q", k.Version), k.Kernel
}

// benchNanosReload edits a copy of the example under `ukdev dev --json`
// and, when ops is installed, boots the same program under `ops run`.
func benchNanosReload(w io.Writer, o nanosOptions, kernelKey, kernelPath string) error {
	ws, err := newWorkspace(o.ukdev, "ukbench-nanos-reload")
	if err != nil {
		return err
	}
	defer ws.remove()
	dir := filepath.Join(ws.tmp, "project")
	if err := copyNanosProject(o.example, dir, kernelKey); err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	if err := setNanosPort(dir, port); err != nil {
		return err
	}
	mainGo := filepath.Join(dir, "main.go")
	res, err := benchUkdev(ws.ukdev, dir, ws.env("NO_COLOR=1"), o.edits, o.verbose, filepath.Join(ws.tmp, "bare"), func(banner string) error { return setGoBanner(mainGo, banner) })
	leftover := ws.killLeftovers()
	if err != nil {
		return err
	}
	bare := res.bare

	var opsTimes []float64
	opsWhy := ""
	if _, err := exec.LookPath("ops"); err != nil {
		opsWhy = "ops is not installed"
	} else if opsTimes, err = benchOpsRun(dir, opsRuns); err != nil {
		opsWhy = err.Error()
	}

	fmt.Fprintf(w, "\nNanos reload: %d edits of %s's banner (%s, %s; kernel %s)\n", len(res.timings), o.example, res.accel, res.machine, kernelPath)
	phase := res.phase
	rows := []row{
		{"build (go build)", phase(func(t devloop.Timing) float64 { return t.BuildMS })},
		{"image (Nanos image write)", phase(func(t devloop.Timing) float64 { return t.ImageMS })},
		{"qemu (start → first line)", phase(func(t devloop.Timing) float64 { return t.QEMUMS })},
		{"ukdev overhead", phase(func(t devloop.Timing) float64 { return t.OverheadMS })},
		{"save → first line", phase(func(t devloop.Timing) float64 { return t.TotalMS })},
		{"save → program's banner", res.saveToBanner},
	}
	printTable(w, rows...)
	fmt.Fprintf(w, "bare QEMU: %d boots of the same images, same argv, not paused, each right after its edit\n", len(bare))
	printRow(w, "spawn → program's banner", bare)
	var withoutBuild []float64
	for i, t := range res.timings {
		if i < len(res.saveToBanner) {
			withoutBuild = append(withoutBuild, res.saveToBanner[i]-t.BuildMS)
		}
	}
	beyond := median(withoutBuild) - median(bare)
	addTarget(w, nanosBareTarget, fmt.Sprintf("%+.1f ms: %.1f ms against %.1f ms", beyond, median(withoutBuild), median(bare)),
		beyond <= nanosBeyondBareTargetMS)
	if opsWhy != "" {
		fmt.Fprintf(w, "ops run: skipped: %s\n", opsWhy)
		skipTarget(w, nanosOpsTarget, opsWhy)
	} else {
		fmt.Fprintf(w, "ops run: %d runs of the same program and config.json (image build + boot)\n", len(opsTimes))
		printRow(w, "spawn → program's banner", opsTimes)
		// ops run's time holds no build: compare with ukdev's save →
		// banner without its build and debounce.
		var noBuild []float64
		for i, t := range res.timings {
			if i < len(res.saveToBanner) {
				noBuild = append(noBuild, res.saveToBanner[i]-t.BuildMS-t.DebounceMS)
			}
		}
		printRow(w, "ukdev, build left out", noBuild)
		ratio := median(opsTimes) / median(noBuild)
		addTarget(w, nanosOpsTarget, fmt.Sprintf("%.2fx: ops run %.1f ms, ukdev %.1f ms", ratio, median(opsTimes), median(noBuild)), ratio >= opsRatioTarget)
	}
	if len(leftover) > 0 {
		return fmt.Errorf("bench: ukdev left QEMU processes behind after SIGTERM (killed): %v", leftover)
	}
	return nil
}

// copyNanosProject copies the example without its built program, gives
// it a go.mod (outside this repository it is a module by itself) and
// points its [nanos] section at the kernel.
func copyNanosProject(src, dst, kernelKey string) error {
	if err := copyProject(src, dst); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(dst, "app")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("bench: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dst, "go.mod"), []byte("module nanoshttp\n\ngo 1.24\n"), 0o644); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	toml := filepath.Join(dst, "ukdev.toml")
	data, err := os.ReadFile(toml)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	data = fmt.Appendf(data, "\n[nanos]\n%s\n", kernelKey)
	if err := os.WriteFile(toml, data, 0o644); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("bench: free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// setNanosPort makes the copy listen on port and forward it, by
// rewriting config.json's Args and RunConfig.Ports, so the benchmark
// never clashes with a server already on the example's port.
func setNanosPort(dir string, port int) error {
	path := filepath.Join(dir, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(data, &cfg); err != nil {
		return fmt.Errorf("bench: %s: %w", path, err)
	}
	rc, ok := cfg["RunConfig"].(map[string]any)
	if !ok {
		rc = map[string]any{}
		cfg["RunConfig"] = rc
	}
	cfg["Args"] = []string{"-addr", fmt.Sprintf(":%d", port)}
	rc["Ports"] = []string{strconv.Itoa(port)}
	out, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if err := os.WriteFile(path, append(out, '\n'), 0o644); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}

// setGoBanner rewrites the `const banner = "..."` line of the Go file at
// path.
func setGoBanner(path, banner string) error {
	return replaceLine(path, "const banner = ", "const banner = "+strconv.Quote(banner))
}

// benchOpsRun builds the project's program once, then n times runs `ops
// run -c config.json` on it and times spawn → the banner line; each run
// also writes its image, as ops always does.
func benchOpsRun(dir string, n int) ([]float64, error) {
	build := exec.Command("go", "build", "-o", "app", ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build for ops run: %w\n%s", err, out)
	}
	banner, err := currentBanner(filepath.Join(dir, "main.go"))
	if err != nil {
		return nil, err
	}
	var times []float64
	for i := 1; i <= n; i++ {
		d, err := opsRunOnce(dir, banner)
		if err != nil {
			return nil, fmt.Errorf("ops run %d: %w", i, err)
		}
		times = append(times, ms(d))
	}
	return times, nil
}

// opsRunOnce times `ops run` from spawn to the banner on its output, then
// kills its process group (ops and its QEMU) and reaps it.
func opsRunOnce(dir, banner string) (time.Duration, error) {
	cmd := exec.Command("ops", "run", "-c", "config.json", "app")
	cmd.Dir = dir
	return timeToLine(cmd, func(line string) bool { return line == banner })
}

// currentBanner reads the banner constant of the Go file at path.
func currentBanner(path string) (string, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	for _, l := range strings.Split(string(src), "\n") {
		if rest, ok := strings.CutPrefix(l, "const banner = "); ok {
			return strconv.Unquote(strings.TrimSpace(rest))
		}
	}
	return "", fmt.Errorf("bench: %s has no `const banner = ` line", path)
}
