package ops

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Kernel is one Nanos release in the ops cache.
type Kernel struct {
	// Version is the release's version ("0.1.52"), "" for explicit paths.
	Version string
	// Dir is the release's directory (~/.ops/0.1.52).
	Dir string
	// Kernel is kernel.img, the PVH ELF kernel.
	Kernel string
	// BootImg is boot.img, the disk boot loader; "" when absent.
	BootImg string
	// Klibs is the klibs directory; "" when absent.
	Klibs string
}

// Cache is an ops home directory holding Nanos releases.
type Cache struct {
	// Home is the ops home (~/.ops).
	Home string
}

// ErrNoKernel is returned (wrapped in a *NoKernelError) when no Nanos
// kernel is found.
var ErrNoKernel = errors.New("no Nanos kernel found")

// NoKernelError says where ukdev looked for a kernel and how to get one.
type NoKernelError struct {
	// Looked lists the places tried, in order.
	Looked []string
}

func (e *NoKernelError) Error() string {
	return fmt.Sprintf("ops: no Nanos kernel found (looked in %s): run `ops update` to download one, "+
		"`ukdev kernel fetch` to do the same without ops, or set the kernel path in ukdev.toml",
		strings.Join(e.Looked, ", "))
}

func (e *NoKernelError) Unwrap() error { return ErrNoKernel }

// Home returns the ops home: $OPS_HOME/.ops when OPS_HOME is set, else
// ~/.ops.
func Home() (string, error) {
	if h := os.Getenv("OPS_HOME"); h != "" {
		return filepath.Join(h, ".ops"), nil
	}
	h, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("ops: home: %w", err)
	}
	return filepath.Join(h, ".ops"), nil
}

// FindKernel finds a Nanos release in the ops home (see Home): version, or
// when version is "" the one ~/.ops/latest.txt names.
func FindKernel(version string) (Kernel, error) {
	home, err := Home()
	if err != nil {
		return Kernel{}, err
	}
	return Cache{Home: home}.FindKernel(version)
}

// FindKernel finds release version in the cache, or when version is "" the
// one latest.txt names. The error for a missing kernel wraps ErrNoKernel
// and lists every place looked in.
func (c Cache) FindKernel(version string) (Kernel, error) {
	var looked []string
	if version == "" {
		latest := filepath.Join(c.Home, "latest.txt")
		data, err := os.ReadFile(latest)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return Kernel{}, &NoKernelError{Looked: []string{latest + " (missing)"}}
		case err != nil:
			return Kernel{}, fmt.Errorf("ops: find kernel: %w", err)
		}
		version = strings.TrimSpace(string(data))
		if version == "" || strings.ContainsAny(version, `/\`) || version == "." || version == ".." {
			return Kernel{}, &NoKernelError{Looked: []string{fmt.Sprintf("%s (names no version: %q)", latest, version)}}
		}
		looked = append(looked, latest+" → "+version)
	}
	if strings.ContainsAny(version, `/\`) || version == "." || version == ".." {
		return Kernel{}, fmt.Errorf("ops: find kernel: version %q: %w", version, ErrBadValue)
	}
	dir := filepath.Join(c.Home, version)
	k := Kernel{Version: version, Dir: dir, Kernel: filepath.Join(dir, "kernel.img")}
	if _, err := os.Stat(k.Kernel); err != nil {
		return Kernel{}, &NoKernelError{Looked: append(looked, k.Kernel+" (missing)")}
	}
	if p := filepath.Join(dir, "boot.img"); fileExists(p) {
		k.BootImg = p
	}
	if p := filepath.Join(dir, "klibs"); dirExists(p) {
		k.Klibs = p
	}
	return k, nil
}

// Versions lists the releases present in the cache (directories holding a
// kernel.img), sorted by name.
func (c Cache) Versions() ([]string, error) {
	entries, err := os.ReadDir(c.Home)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ops: versions: %w", err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && fileExists(filepath.Join(c.Home, e.Name(), "kernel.img")) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

func dirExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// KernelAt describes an explicitly named kernel.img (from ukdev.toml or the
// config's Kernel key), with the boot.img and klibs directory beside it
// when present. A missing file wraps ErrNoKernel.
func KernelAt(kernelImg string) (Kernel, error) {
	if !fileExists(kernelImg) {
		return Kernel{}, &NoKernelError{Looked: []string{kernelImg + " (missing)"}}
	}
	dir := filepath.Dir(kernelImg)
	k := Kernel{Dir: dir, Kernel: kernelImg}
	if p := filepath.Join(dir, "boot.img"); fileExists(p) {
		k.BootImg = p
	}
	if p := filepath.Join(dir, "klibs"); dirExists(p) {
		k.Klibs = p
	}
	return k, nil
}

// KernelFor finds the kernel a config asks for: its Kernel path when set
// (relative to the config's directory), else release NanosVersion, else
// the latest release in the cache. A nil config means the latest.
func (c Cache) KernelFor(cfg *Config) (Kernel, error) {
	if cfg == nil {
		return c.FindKernel("")
	}
	if cfg.Kernel != "" {
		p := cfg.Kernel
		if !filepath.IsAbs(p) && cfg.Path != "" {
			p = filepath.Join(filepath.Dir(cfg.Path), p)
		}
		return KernelAt(p)
	}
	return c.FindKernel(cfg.NanosVersion)
}
