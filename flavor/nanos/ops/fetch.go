package ops

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/ukdev/ukdev/nofollow"
)

// DefaultBaseURL is where Nanos releases are published:
// <base>/latest.txt and <base>/<version>/nanos-release-linux-<version>.tar.gz.
const DefaultBaseURL = "https://storage.googleapis.com/nanos/release"

// maxRelease bounds how much a release tarball may expand to; real ones
// are a few MiB.
const maxRelease = 512 << 20

// ErrBadRelease is returned (wrapped) when a downloaded tarball is not a
// Nanos release (no kernel.img, unsafe paths, too large).
var ErrBadRelease = errors.New("not a Nanos release tarball")

// ReleaseName is the file name of a release tarball.
func ReleaseName(version string) string {
	return "nanos-release-linux-" + version + ".tar.gz"
}

// Fetch downloads Nanos release version (the latest one, as baseURL's
// latest.txt names it, when version is "") into home/<version>/, the
// layout ops uses, and returns the kernel found there. It is the only
// function of ukdev that uses the network. A release already present is
// replaced only once the new one is complete. latest.txt is written when
// the latest release was fetched or when home had none.
func Fetch(ctx context.Context, client *http.Client, baseURL, version, home string) (Kernel, error) {
	if client == nil {
		client = http.DefaultClient
	}
	base := strings.TrimSuffix(baseURL, "/")
	fromLatest := version == ""
	if fromLatest {
		data, err := get(ctx, client, base+"/latest.txt", 1024)
		if err != nil {
			return Kernel{}, fmt.Errorf("ops: fetch latest version: %w", err)
		}
		version = strings.TrimSpace(string(data))
	}
	if version == "" || strings.ContainsAny(version, `/\ `) || version == "." || version == ".." {
		return Kernel{}, fmt.Errorf("ops: fetch: version %q: %w", version, ErrBadValue)
	}
	if err := os.MkdirAll(home, 0o755); err != nil {
		return Kernel{}, fmt.Errorf("ops: fetch %s: %w", version, err)
	}
	url := base + "/" + version + "/" + ReleaseName(version)
	tmp, err := os.MkdirTemp(home, ".fetch-"+version+"-")
	if err != nil {
		return Kernel{}, fmt.Errorf("ops: fetch %s: %w", version, err)
	}
	defer os.RemoveAll(tmp)
	if err := download(ctx, client, url, tmp); err != nil {
		return Kernel{}, fmt.Errorf("ops: fetch %s: %w", url, err)
	}
	root, err := releaseRoot(tmp)
	if err != nil {
		return Kernel{}, fmt.Errorf("ops: fetch %s: %w", url, err)
	}
	dst := filepath.Join(home, version)
	if err := os.RemoveAll(dst); err != nil {
		return Kernel{}, fmt.Errorf("ops: fetch %s: %w", version, err)
	}
	if err := os.Rename(root, dst); err != nil {
		return Kernel{}, fmt.Errorf("ops: fetch %s: %w", version, err)
	}
	latest := filepath.Join(home, "latest.txt")
	if fromLatest || !fileExists(latest) {
		if err := nofollow.WriteFile(latest, []byte(version+"\n"), 0o644); err != nil {
			return Kernel{}, fmt.Errorf("ops: fetch %s: %w", version, err)
		}
	}
	return Cache{Home: home}.FindKernel(version)
}

// get fetches a small document.
func get(ctx context.Context, client *http.Client, url string, limit int64) ([]byte, error) {
	body, err := open(ctx, client, url)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	return io.ReadAll(io.LimitReader(body, limit))
}

func open(ctx context.Context, client *http.Client, url string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return resp.Body, nil
}

// download unpacks the gzip'd tarball at url into dir, refusing entries
// that would land outside it.
func download(ctx context.Context, client *http.Client, url, dir string) error {
	body, err := open(ctx, client, url)
	if err != nil {
		return err
	}
	defer body.Close()
	gz, err := gzip.NewReader(body)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadRelease, err)
	}
	tr := tar.NewReader(gz)
	var total int64
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %w", ErrBadRelease, err)
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if name == "." {
			continue
		}
		if path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return fmt.Errorf("%w: entry %q leaves the release directory", ErrBadRelease, h.Name)
		}
		target := filepath.Join(dir, filepath.FromSlash(name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			total += h.Size
			if total > maxRelease {
				return fmt.Errorf("%w: larger than %d MiB", ErrBadRelease, maxRelease>>20)
			}
			if err := writeFile(target, tr, h.Size, h.FileInfo().Mode().Perm()); err != nil {
				return err
			}
		default:
			// Links and devices have no place in a release; skipping them
			// keeps every written file inside dir.
		}
	}
}

func writeFile(target string, r io.Reader, size int64, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	f, err := nofollow.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm|0o600)
	if err != nil {
		return err
	}
	if _, err := io.CopyN(f, r, size); err != nil {
		f.Close()
		return fmt.Errorf("%w: %w", ErrBadRelease, err)
	}
	return f.Close()
}

// releaseRoot returns the directory of an unpacked release holding
// kernel.img: dir itself, or its only subdirectory when the tarball has a
// top-level directory.
func releaseRoot(dir string) (string, error) {
	if fileExists(filepath.Join(dir, "kernel.img")) {
		return dir, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	if len(entries) == 1 && entries[0].IsDir() {
		sub := filepath.Join(dir, entries[0].Name())
		if fileExists(filepath.Join(sub, "kernel.img")) {
			return sub, nil
		}
	}
	return "", fmt.Errorf("%w: no kernel.img in it", ErrBadRelease)
}
