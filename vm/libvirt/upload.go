package libvirt

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/ukdev/ukdev/vm"
)

// DefaultPool is the storage pool images are uploaded to when
// Backend.Pool is empty; ukdev creates it (a directory pool under
// DefaultPoolDir) when the host has none of that name.
const (
	DefaultPool    = "ukdev"
	DefaultPoolDir = "/var/lib/libvirt/ukdev"
)

// progressEvery is the least time between two reports of an upload's
// progress while bytes go.
const progressEvery = 100 * time.Millisecond

// ensurePool returns the storage pool named name, started. A missing
// pool is defined as a directory pool at dir (DefaultPoolDir when
// empty), built and started, and marked to start with the host.
func ensurePool(l *golibvirt.Libvirt, name, dir string) (golibvirt.StoragePool, error) {
	pool, err := l.StoragePoolLookupByName(name)
	if err != nil && !isError(err, golibvirt.ErrNoStoragePool) {
		return pool, fmt.Errorf("libvirt: pool %s: %w", name, err)
	}
	if err != nil {
		if dir == "" {
			dir = DefaultPoolDir
		}
		var def struct {
			XMLName xml.Name `xml:"pool"`
			Type    string   `xml:"type,attr"`
			Name    string   `xml:"name"`
			Target  struct {
				Path string `xml:"path"`
			} `xml:"target"`
		}
		def.Type, def.Name, def.Target.Path = "dir", name, dir
		b, _ := xml.Marshal(def)
		if pool, err = l.StoragePoolDefineXML(string(b), 0); err != nil {
			return pool, fmt.Errorf("libvirt: define pool %s at %s: %w", name, dir, err)
		}
		if err := l.StoragePoolBuild(pool, 0); err != nil {
			return pool, fmt.Errorf("libvirt: build pool %s: %w", name, err)
		}
		_ = l.StoragePoolSetAutostart(pool, 1)
	}
	state, _, _, _, err := l.StoragePoolGetInfo(pool)
	if err != nil {
		return pool, fmt.Errorf("libvirt: pool %s: %w", name, err)
	}
	if golibvirt.StoragePoolState(state) != golibvirt.StoragePoolRunning {
		if err := l.StoragePoolCreate(pool, 0); err != nil {
			return pool, fmt.Errorf("libvirt: start pool %s: %w", name, err)
		}
	}
	return pool, nil
}

// volumeName names the volume of a file by its content: the file's base
// name, so that people recognise it, and the start of its SHA-256, so
// that a file whose content did not change is not uploaded again.
func volumeName(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return "ukdev-" + hex.EncodeToString(h.Sum(nil))[:16] + "-" + filepath.Base(path), nil
}

// completeSuffix ends the name of the empty volume that marks a volume
// of the same name without it as completely uploaded.
const completeSuffix = ".complete"

// upload puts the file at path into pool and returns the volume's path on
// the host. A volume of the same content is reused once its upload is
// known to have completed: an empty marker volume (completeSuffix) is
// created after the last byte arrived, so that a volume an interrupted
// upload left half-written (ukdev killed, the connection cut) is never
// booted; it is deleted and sent again. progress, if not nil, is told of
// the transfer: once before anything else (Sent 0), as bytes go (at most
// every progressEvery), and once at its end (Done; Skipped when the
// volume was reused, Err when the upload failed), never after that.
func upload(ctx context.Context, l *golibvirt.Libvirt, pool golibvirt.StoragePool, path string, progress func(vm.Transfer)) (string, error) {
	began := time.Now()
	var mu sync.Mutex // tr: go-libvirt may still read the file after a failed upload returned
	tr := vm.Transfer{File: path}
	update := func(f func(*vm.Transfer)) {
		mu.Lock()
		defer mu.Unlock()
		if tr.Done {
			return
		}
		f(&tr)
		if progress != nil {
			tr.Elapsed = time.Since(began)
			progress(tr)
		}
	}
	fail := func(err error) (string, error) {
		update(func(t *vm.Transfer) { t.Done, t.Err = true, err })
		return "", err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fail(fmt.Errorf("libvirt: upload %s: %w", path, err))
	}
	// First: hashing a large disk image takes a while.
	update(func(t *vm.Transfer) { t.Total = fi.Size() })
	name, err := volumeName(path)
	if err != nil {
		return fail(fmt.Errorf("libvirt: upload %s: %w", path, err))
	}
	mu.Lock()
	tr.Dest = name // told with the next report
	mu.Unlock()
	vol, err := l.StorageVolLookupByName(pool, name)
	if err == nil {
		_, markErr := l.StorageVolLookupByName(pool, name+completeSuffix)
		if _, capacity, _, err := l.StorageVolGetInfo(vol); err == nil && markErr == nil && capacity == uint64(fi.Size()) {
			p, err := l.StorageVolGetPath(vol)
			if err != nil {
				return fail(fmt.Errorf("libvirt: upload %s: volume path: %w", path, err))
			}
			update(func(t *vm.Transfer) { t.Done, t.Skipped = true, true })
			return p, nil
		}
		// A half-written volume of an earlier, interrupted upload.
		_ = l.StorageVolDelete(vol, 0)
	} else if !isError(err, golibvirt.ErrNoStorageVol) {
		return fail(fmt.Errorf("libvirt: upload %s: %w", path, err))
	}
	var def struct {
		XMLName  xml.Name `xml:"volume"`
		Name     string   `xml:"name"`
		Capacity struct {
			Unit  string `xml:"unit,attr"`
			Value int64  `xml:",chardata"`
		} `xml:"capacity"`
		Target struct {
			Format struct {
				Type string `xml:"type,attr"`
			} `xml:"format"`
		} `xml:"target"`
	}
	def.Capacity.Unit = "bytes"
	def.Target.Format.Type = "raw"
	volumeXML := func(name string, size int64) string {
		def.Name, def.Capacity.Value = name, size
		b, _ := xml.Marshal(def)
		return string(b)
	}
	vol, err = l.StorageVolCreateXML(pool, volumeXML(name, fi.Size()), 0)
	if err != nil {
		return fail(fmt.Errorf("libvirt: upload %s: create volume %s: %w", path, name, err))
	}
	f, err := os.Open(path)
	if err != nil {
		_ = l.StorageVolDelete(vol, 0)
		return fail(fmt.Errorf("libvirt: upload %s: %w", path, err))
	}
	defer f.Close()
	r := &progressReader{ctx: ctx, r: f, every: progressEvery, last: time.Now(), report: func(n int64) {
		update(func(t *vm.Transfer) { t.Sent = n })
	}}
	if err := l.StorageVolUpload(vol, r, 0, uint64(fi.Size()), 0); err != nil {
		_ = l.StorageVolDelete(vol, 0)
		return fail(fmt.Errorf("libvirt: upload %s to %s: %w", path, name, err))
	}
	// The marker, once every byte is in. Without it the volume is sent
	// again next time: a failure here costs an upload, nothing worse.
	if old, err := l.StorageVolLookupByName(pool, name+completeSuffix); err == nil {
		_ = l.StorageVolDelete(old, 0)
	}
	_, _ = l.StorageVolCreateXML(pool, volumeXML(name+completeSuffix, 0), 0)
	p, err := l.StorageVolGetPath(vol)
	if err != nil {
		return fail(fmt.Errorf("libvirt: upload %s: volume path: %w", path, err))
	}
	update(func(t *vm.Transfer) { t.Sent, t.Done = fi.Size(), true })
	return p, nil
}

// progressReader counts the bytes read through it, reports the count at
// most every so often, and fails once ctx is done (which aborts the
// upload).
type progressReader struct {
	ctx    context.Context
	r      io.Reader
	n      int64
	last   time.Time
	every  time.Duration
	report func(int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	if err := p.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := p.r.Read(b)
	p.n += int64(n)
	if now := time.Now(); n > 0 && now.Sub(p.last) >= p.every {
		p.last = now
		p.report(p.n)
	}
	return n, err
}

// isError reports whether err is a libvirt error with code.
func isError(err error, code golibvirt.ErrorNumber) bool {
	var le golibvirt.Error
	if errors.As(err, &le) {
		return le.Code == uint32(code)
	}
	var lp *golibvirt.Error
	return errors.As(err, &lp) && lp.Code == uint32(code)
}
