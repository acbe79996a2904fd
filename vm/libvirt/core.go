package libvirt

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"
)

// coreDumpLimit bounds a core dump whose context has no deadline.
const coreDumpLimit = 5 * time.Minute

// DumpCore writes the guest's memory and vCPU state to path, on this
// machine, as an ELF core (vm.Machine's contract). QEMU runs on the
// libvirt host, so the dump is made there first: libvirt's own core dump
// (virDomainCoreDumpWithFormat, memory only, ELF) into a new file in the
// directory of the Backend's storage pool, which a pool refresh turns
// into a volume that is downloaded to path and deleted. A file already
// at path is replaced; a dump that fails leaves no file, here or on the
// host.
//
// Unlike vm/qemu's, the core holds the guest's memory at its physical
// addresses only: libvirt runs QEMU's dump-guest-memory without paging,
// and the command cannot go through the monitor passthrough instead
// (libvirtd 9.0 crashes on the DUMP_COMPLETED event of a dump it did not
// start). A running guest is paused while the dump is written.
func (m *Machine) DumpCore(ctx context.Context, path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("libvirt: dump core: %w", err)
	}
	pool, dir, err := m.corePool()
	if err != nil {
		return err
	}
	var r [4]byte
	_, _ = rand.Read(r[:])
	name := "core-" + m.dom.Name + "-" + hex.EncodeToString(r[:]) + ".elf"
	hostPath := dir + "/" + name
	// Whatever happens, the dump does not stay on the host.
	defer m.deleteVolume(pool, name)

	// Not bounded by the command timeout: the dump is as large as the
	// guest's memory. ctx still ends the wait.
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, coreDumpLimit)
		defer cancel()
	}
	if err := m.call(ctx, "dump core", func() error {
		return m.l.DomainCoreDumpWithFormat(m.dom, hostPath, uint32(golibvirt.DomainCoreDumpFormatRaw), golibvirt.DumpMemoryOnly)
	}); err != nil {
		return err
	}

	var vol golibvirt.StorageVol
	if err := m.call(ctx, "dump core: refresh pool", func() error {
		if err := m.l.StoragePoolRefresh(pool, 0); err != nil {
			return err
		}
		var err error
		vol, err = m.l.StorageVolLookupByName(pool, name)
		return err
	}); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".core-*")
	if err != nil {
		return fmt.Errorf("libvirt: dump core: %w", err)
	}
	defer os.Remove(tmp.Name())
	// The download is not bounded by the command timeout: a core is as
	// large as the guest's memory.
	if err := m.l.StorageVolDownload(vol, tmp, 0, 0, 0); err != nil {
		tmp.Close()
		return fmt.Errorf("libvirt: dump core: download %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("libvirt: dump core: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("libvirt: dump core: %w", err)
	}
	return nil
}

// corePool returns the Backend's storage pool and its directory on the
// host.
func (m *Machine) corePool() (golibvirt.StoragePool, string, error) {
	name := m.b.Pool
	if name == "" {
		name = DefaultPool
	}
	pool, err := ensurePool(m.l, name, m.b.PoolDir)
	if err != nil {
		return pool, "", fmt.Errorf("libvirt: dump core: %w", err)
	}
	desc, err := m.l.StoragePoolGetXMLDesc(pool, 0)
	if err != nil {
		return pool, "", fmt.Errorf("libvirt: dump core: pool %s: %w", name, err)
	}
	var def struct {
		Target struct {
			Path string `xml:"path"`
		} `xml:"target"`
	}
	if err := xml.Unmarshal([]byte(desc), &def); err != nil || def.Target.Path == "" {
		return pool, "", fmt.Errorf("libvirt: dump core: pool %s has no directory (%v)", name, err)
	}
	return pool, def.Target.Path, nil
}

// deleteVolume removes the volume name of pool, after a refresh so that a
// file QEMU left is found; a missing one is no error.
func (m *Machine) deleteVolume(pool golibvirt.StoragePool, name string) {
	_ = m.l.StoragePoolRefresh(pool, 0)
	vol, err := m.l.StorageVolLookupByName(pool, name)
	if err != nil {
		return
	}
	if err := m.l.StorageVolDelete(vol, 0); err != nil {
		m.log.Warn("libvirt: delete the core dump on the host", "volume", name, "err", err)
	}
}
