package ops

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeRelease(t *testing.T, dir string, klibs bool) {
	t.Helper()
	files := map[string]string{"kernel.img": "KERNEL", "boot.img": "BOOT"}
	if klibs {
		files["klibs/syslog"] = "SYSLOG"
	}
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestHome(t *testing.T) {
	t.Setenv("OPS_HOME", "/srv/opshome")
	if h, err := Home(); err != nil || h != "/srv/opshome/.ops" {
		t.Errorf("Home with OPS_HOME = %q, %v", h, err)
	}
	t.Setenv("OPS_HOME", "")
	t.Setenv("HOME", "/home/someone")
	if h, err := Home(); err != nil || h != "/home/someone/.ops" {
		t.Errorf("Home = %q, %v", h, err)
	}
}

func TestFindKernel(t *testing.T) {
	home := t.TempDir()
	writeRelease(t, filepath.Join(home, "0.1.52"), true)
	writeRelease(t, filepath.Join(home, "0.1.50"), false)
	os.Remove(filepath.Join(home, "0.1.50", "boot.img"))
	c := Cache{Home: home}

	tests := []struct {
		name, version, latest string
		want                  Kernel
		missing               []string // fragments of the NoKernelError
	}{
		{name: "explicit", version: "0.1.52", want: Kernel{Version: "0.1.52", Dir: home + "/0.1.52",
			Kernel: home + "/0.1.52/kernel.img", BootImg: home + "/0.1.52/boot.img", Klibs: home + "/0.1.52/klibs"}},
		{name: "no boot.img nor klibs", version: "0.1.50", want: Kernel{Version: "0.1.50", Dir: home + "/0.1.50",
			Kernel: home + "/0.1.50/kernel.img"}},
		{name: "latest", latest: "0.1.52\n", want: Kernel{Version: "0.1.52", Dir: home + "/0.1.52",
			Kernel: home + "/0.1.52/kernel.img", BootImg: home + "/0.1.52/boot.img", Klibs: home + "/0.1.52/klibs"}},
		{name: "no latest.txt", missing: []string{home + "/latest.txt (missing)", "ops update"}},
		{name: "latest names a missing version", latest: "0.2.0", missing: []string{"latest.txt → 0.2.0", home + "/0.2.0/kernel.img (missing)", "ukdev.toml"}},
		{name: "missing version", version: "9.9.9", missing: []string{home + "/9.9.9/kernel.img (missing)"}},
		{name: "empty latest.txt", latest: " \n", missing: []string{"names no version"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			latest := filepath.Join(home, "latest.txt")
			os.Remove(latest)
			if tt.latest != "" {
				if err := os.WriteFile(latest, []byte(tt.latest), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			k, err := c.FindKernel(tt.version)
			if tt.missing != nil {
				var nk *NoKernelError
				if !errors.As(err, &nk) || !errors.Is(err, ErrNoKernel) {
					t.Fatalf("err = %v, want a NoKernelError", err)
				}
				for _, frag := range tt.missing {
					if !strings.Contains(err.Error(), frag) {
						t.Errorf("error %q does not mention %q", err, frag)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if k != tt.want {
				t.Errorf("FindKernel = %+v, want %+v", k, tt.want)
			}
		})
	}
	if _, err := c.FindKernel("../etc"); !errors.Is(err, ErrBadValue) {
		t.Errorf("FindKernel(../etc) = %v, want ErrBadValue", err)
	}
	if v, err := c.Versions(); err != nil || strings.Join(v, ",") != "0.1.50,0.1.52" {
		t.Errorf("Versions = %v, %v", v, err)
	}
}

type entry struct {
	name, data string
	typ        byte
}

func tarball(t *testing.T, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)), Typeflag: e.typ}
		if e.typ == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag == tar.TypeDir || h.Typeflag == tar.TypeSymlink {
			h.Size, h.Mode, h.Linkname = 0, 0o755, "/etc/passwd"
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.data)); err != nil && h.Size > 0 {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestFetch(t *testing.T) {
	release := []entry{
		{name: "./", typ: tar.TypeDir},
		{name: "./kernel.img", data: "KERNEL-0.1.53"},
		{name: "./boot.img", data: "BOOT"},
		{name: "./klibs/", typ: tar.TypeDir},
		{name: "./klibs/syslog", data: "SYSLOG"},
		{name: "./klibs/evil", typ: tar.TypeSymlink},
	}
	nested := []entry{
		{name: "nanos-0.1.54/kernel.img", data: "KERNEL-0.1.54"},
		{name: "nanos-0.1.54/klibs/radar", data: "RADAR"},
	}
	files := map[string][]byte{
		"/latest.txt": []byte("0.1.53\n"),
		"/0.1.53/nanos-release-linux-0.1.53.tar.gz": tarball(t, release),
		"/0.1.54/nanos-release-linux-0.1.54.tar.gz": tarball(t, nested),
		"/0.1.55/nanos-release-linux-0.1.55.tar.gz": tarball(t, []entry{{name: "../escape", data: "x"}}),
		"/0.1.56/nanos-release-linux-0.1.56.tar.gz": tarball(t, []entry{{name: "README", data: "x"}}),
		"/0.1.57/nanos-release-linux-0.1.57.tar.gz": []byte("not gzip"),
	}
	var requests []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests = append(requests, r.URL.Path)
		data, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(data)
	}))
	defer srv.Close()
	home := filepath.Join(t.TempDir(), ".ops")
	ctx := context.Background()

	k, err := Fetch(ctx, srv.Client(), srv.URL+"/", "", home)
	if err != nil {
		t.Fatal(err)
	}
	want := Kernel{Version: "0.1.53", Dir: home + "/0.1.53", Kernel: home + "/0.1.53/kernel.img",
		BootImg: home + "/0.1.53/boot.img", Klibs: home + "/0.1.53/klibs"}
	if k != want {
		t.Errorf("Fetch latest = %+v, want %+v", k, want)
	}
	if data, _ := os.ReadFile(k.Kernel); string(data) != "KERNEL-0.1.53" {
		t.Errorf("kernel.img = %q", data)
	}
	if _, err := os.Lstat(filepath.Join(k.Klibs, "evil")); err == nil {
		t.Error("a symlink from the tarball was created")
	}
	if data, _ := os.ReadFile(filepath.Join(home, "latest.txt")); string(data) != "0.1.53\n" {
		t.Errorf("latest.txt = %q", data)
	}
	if found, err := (Cache{Home: home}).FindKernel(""); err != nil || found != want {
		t.Errorf("FindKernel after Fetch = %+v, %v", found, err)
	}

	k, err = Fetch(ctx, srv.Client(), srv.URL, "0.1.54", home)
	if err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(k.Klibs, "radar")); string(data) != "RADAR" || k.BootImg != "" {
		t.Errorf("nested release: %+v, radar %q", k, data)
	}
	if data, _ := os.ReadFile(filepath.Join(home, "latest.txt")); string(data) != "0.1.53\n" {
		t.Errorf("fetching an explicit version changed latest.txt to %q", data)
	}

	for _, tt := range []struct {
		version string
		is      error
	}{{"0.1.55", ErrBadRelease}, {"0.1.56", ErrBadRelease}, {"0.1.57", ErrBadRelease}, {"0.1.99", nil}, {"../x", ErrBadValue}} {
		_, err := Fetch(ctx, srv.Client(), srv.URL, tt.version, home)
		if err == nil || (tt.is != nil && !errors.Is(err, tt.is)) {
			t.Errorf("Fetch %s = %v, want %v", tt.version, err, tt.is)
		}
		if _, statErr := os.Stat(filepath.Join(home, tt.version)); statErr == nil && tt.version != "../x" {
			t.Errorf("failed fetch of %s left a release directory", tt.version)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(home), "escape")); err == nil {
		t.Error("a tarball entry escaped the cache")
	}
	left, _ := filepath.Glob(filepath.Join(home, ".fetch-*"))
	if len(left) > 0 {
		t.Errorf("temporary directories left: %v", left)
	}
}

func TestKernelFor(t *testing.T) {
	home := t.TempDir()
	writeRelease(t, filepath.Join(home, "0.1.52"), true)
	writeRelease(t, filepath.Join(home, "0.1.51"), false)
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(home, "latest.txt"), []byte("0.1.52"), 0o644))
	project := t.TempDir()
	writeRelease(t, filepath.Join(project, "nanos"), false)
	c := Cache{Home: home}
	tests := []struct {
		name string
		cfg  *Config
		want string // the kernel.img path
		err  error
	}{
		{"nil config: latest", nil, home + "/0.1.52/kernel.img", nil},
		{"no version: latest", &Config{}, home + "/0.1.52/kernel.img", nil},
		{"version", &Config{NanosVersion: "0.1.51"}, home + "/0.1.51/kernel.img", nil},
		{"relative kernel path", &Config{Path: project + "/config.json", Kernel: "nanos/kernel.img", NanosVersion: "0.1.51"},
			project + "/nanos/kernel.img", nil},
		{"missing kernel path", &Config{Path: project + "/config.json", Kernel: "gone/kernel.img"}, "", ErrNoKernel},
		{"missing version", &Config{NanosVersion: "0.0.1"}, "", ErrNoKernel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := c.KernelFor(tt.cfg)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Errorf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil || k.Kernel != tt.want {
				t.Errorf("KernelFor = %+v, %v; want %s", k, err, tt.want)
			}
		})
	}
	k, err := KernelAt(project + "/nanos/kernel.img")
	if err != nil || k.BootImg != project+"/nanos/boot.img" || k.Klibs != "" {
		t.Errorf("KernelAt = %+v, %v", k, err)
	}
}
