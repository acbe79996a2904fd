package linux

import (
	"bufio"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ukdev/ukdev/bootdisk"
	"github.com/ukdev/ukdev/flavor/linux/initramfs"
	"github.com/ukdev/ukdev/guestexit"
	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/nofollow"
)

// Defaults of the linux flavor.
const (
	// KernelModule is the Go module whose vmlinuz is the default
	// kernel: Linux built for PCs and VMs, with virtio (PCI and MMIO),
	// balloon, virtio-rng, IP autoconfiguration and initramfs support
	// built in.
	KernelModule = "github.com/gokrazy/kernel.amd64"
	// DefaultKernelVersion is the version of KernelModule booted
	// when the config pins none (Linux 7.1).
	DefaultKernelVersion = "v0.0.0-20260705070735-de680abf072b"
	// BaseCmdline starts every linux flavor command line: the console
	// on the first serial port; a panic reboots at once (which QEMU turns
	// into a pause, see vm.Args); boot messages below warnings hidden; and
	// eth0 configured statically for QEMU's user network (guest
	// 10.0.2.15, gateway 10.0.2.2), with no DHCP round trip.
	BaseCmdline = "console=ttyS0 panic=-1 quiet " + StaticIP
	// NoNestedKVM follows BaseCmdline: it skips the initialisation of
	// KVM inside the guest (kvm_amd's svm_init, kvm_intel's vmx_init),
	// which a one-program VM never uses. Under TCG with -cpu max the guest
	// sees SVM, and svm_init was the slowest initcall of the default
	// kernel's boot (initcall_debug: 0.37 s of about 4 s). A kernel
	// without these initcalls ignores the word.
	NoNestedKVM = "initcall_blacklist=svm_init,vmx_init"
	// StaticIP is BaseCmdline's network setting: QEMU's user network's
	// fixed guest address and gateway.
	StaticIP = "ip=10.0.2.15::10.0.2.2:255.255.255.0::eth0:off"
	// DiskIP replaces StaticIP on a disk's command line: a cloud's
	// network gives the address by DHCP (as QEMU's user network does).
	DiskIP = "ip=dhcp"
	// DefaultMachine is the QEMU machine a Linux image boots on:
	// microvm, whose firmware (qboot) loads the kernel at once, and which
	// has no PCI bus or ACPI tables to probe. Under TCG it reaches the
	// program's first line about a second sooner than q35. It has no
	// HPET or ACPI PM timer, so the kernel gets the TSC's frequency on
	// its command line (TSCParam).
	DefaultMachine = "microvm"
	// NoTSCMachine is the machine when the TSC's frequency is unknown
	// (TSCKHz negative, or the host's could not be measured): q35, whose
	// HPET the kernel calibrates its TSC against.
	NoTSCMachine = "q35"
	// MachineOptions are DefaultMachine's options: the RTC, which gives
	// the guest the date (microvm leaves it out under KVM).
	MachineOptions = "rtc=on"
	// DiskMachine is the machine a disk of the flavor (WriteDisk) is
	// tested on: microvm's firmware boots no disks.
	DiskMachine = "q35"
)

// Options configure a linux Kernel.
type Options struct {
	// Kernel is the bzImage to boot; empty means vmlinuz of
	// KernelModule at KernelVersion, fetched through the Go module
	// cache.
	Kernel string
	// KernelVersion is the version of KernelModule used when Kernel
	// is empty; empty means DefaultKernelVersion.
	KernelVersion string
	// Go is the go command that resolves the module; empty means "go"
	// looked up in PATH.
	Go string
	// Files are added to the initramfs beside the program (/init). A
	// relative Host path is relative to Dir.
	Files []initramfs.File
	// Dir is the directory relative Host paths of Files are relative to;
	// empty means the current directory.
	Dir string
	// Cmdline is added to BaseCmdline; words after "--" are the
	// program's arguments, and unknown key=value words become its
	// environment (the kernel's rules for init).
	Cmdline string
	// TSCKHz is the guest's TSC frequency in kHz, given to the kernel as
	// TSCParam: 0 means the host's, measured once by New (HostTSCKHz;
	// none where it cannot be measured), and a negative value gives none.
	// Without one the image boots on NoTSCMachine.
	TSCKHz int64
	// DHCP gives the guest's network its address by DHCP (DiskIP)
	// instead of QEMU's user network's fixed one (StaticIP): a guest on
	// a network of the VM host.
	DHCP bool
}

// ErrConfig is returned (wrapped) when the linux flavor's options
// cannot work: a configured file that is missing, a second /init.
var ErrConfig = errors.New("bad Linux config")

// Kernel prepares and decodes boots of "Linux in unikernel clothing": the build produces
// one static ELF program, and Prepare writes an initramfs holding it as
// /init, booted by a Linux kernel. When /init exits the kernel panics
// ("Attempted to kill init!"), so an exit code is read from the console
// (Explain). It is safe for concurrent use.
type Kernel struct {
	opts   Options
	kernel string
	tsc    string // the TSCParam word, empty for none
}

// New checks opts and resolves the kernel (which may download
// KernelModule through the go command, see ResolveKernel), and
// returns the Kernel.
func New(opts Options) (*Kernel, error) {
	files := make([]initramfs.File, len(opts.Files))
	for i, f := range opts.Files {
		if path.Clean("/"+f.Path) == "/init" {
			return nil, fmt.Errorf("linux: file %s: /init is the program the build produces: %w", f.Path, ErrConfig)
		}
		if f.Host != "" && !filepath.IsAbs(f.Host) {
			f.Host = filepath.Join(opts.Dir, f.Host)
		}
		if f.Host != "" && !isFile(f.Host) {
			return nil, fmt.Errorf("linux: file %s: host file %s is missing or not a regular file: %w", f.Path, f.Host, ErrConfig)
		}
		files[i] = f
	}
	opts.Files = files
	k := opts.Kernel
	if k == "" {
		var err error
		if k, err = ResolveKernel(opts.Go, opts.KernelVersion); err != nil {
			return nil, err
		}
	}
	protos, err := image.Inspect(k)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("linux: kernel %s: %w", k, err)
	}
	if err != nil && !errors.Is(err, image.ErrNotBootable) {
		return nil, err
	}
	if !protos.Has(image.LinuxBoot) {
		return nil, &image.FormatError{Path: k, Err: image.ErrNotBootable, Reason: "not a Linux bzImage (no Linux boot protocol header)"}
	}
	var tsc string
	switch {
	case opts.TSCKHz > 0:
		tsc = tscWord(uint64(opts.TSCKHz))
	case opts.TSCKHz == 0:
		if khz, ok := HostTSCKHz(); ok {
			tsc = tscWord(khz)
		}
	}
	return &Kernel{opts: opts, kernel: k, tsc: tsc}, nil
}

// KernelPath is the bzImage the flavor boots (a build gets its own copy).
func (l *Kernel) KernelPath() string { return l.kernel }

// Prepare implements flavor.Kernel. a.Kernel is the static program; it is copied
// into the store (it is also the image's symbol file), the build's
// initramfs is written beside it (read-only) with the program as /init and
// the configured files, and the kernel is copied there too. The command
// line is BaseCmdline, NoNestedKVM, the TSC's frequency (TSCParam), the
// options' Cmdline, then a.Cmdline.
func (l *Kernel) Prepare(ctx context.Context, store *image.Store, build int, a image.Artifacts, inUse ...int) (image.Image, error) {
	if a.Kernel == "" {
		return image.Image{}, fmt.Errorf("linux: prepare build %d: no program configured", build)
	}
	if err := checkStaticProgram(a.Kernel); err != nil {
		return image.Image{}, err
	}
	img, err := store.Copy(ctx, build, image.Artifacts{Kernel: a.Kernel}, inUse...)
	if err != nil {
		return image.Image{}, err
	}
	program := img.Kernel
	files := append(append([]initramfs.File(nil), l.opts.Files...), initramfs.File{Path: "/init", Host: program, Mode: 0o755})
	img.Initrd = filepath.Join(store.BuildDir(build), "initrd.cpio")
	if err := writeInitramfs(img.Initrd, files); err != nil {
		return image.Image{}, fmt.Errorf("linux: prepare build %d: %w", build, err)
	}
	if img.Kernel, err = store.AddFile(ctx, build, l.kernel, "vmlinuz"); err != nil {
		return image.Image{}, err
	}
	img.Symbols = program
	// /init's addresses are mapped only while it runs on the vCPU; an
	// idle guest runs on the kernel's page tables.
	img.SymbolSpace = image.SpaceNone
	base := BaseCmdline
	if l.opts.DHCP {
		base = strings.Replace(base, StaticIP, DiskIP, 1)
	}
	img.Cmdline = joinCmdline(base, NoNestedKVM, l.tsc, l.opts.Cmdline, a.Cmdline)
	img.Protocols = image.LinuxBoot
	img.Machine, img.MachineOptions = DefaultMachine, MachineOptions
	if l.tsc == "" {
		img.Machine, img.MachineOptions = NoTSCMachine, ""
	}
	img.Balloon = true
	img.RNG = true
	return img, nil
}

// DiskCmdline returns the kernel command line of a disk: cmdline with
// the StaticIP word of BaseCmdline replaced by DiskIP, and without the
// words in drop (the TSC frequency of this host, which a cloud's machine
// does not share). An ip= word the user added stays, and as the later one
// it wins.
func DiskCmdline(cmdline string, drop ...string) string {
	var out []string
	for _, w := range strings.Fields(cmdline) {
		switch {
		case w == StaticIP:
			out = append(out, DiskIP)
		case !slices.Contains(drop, w):
			out = append(out, w)
		}
	}
	return strings.Join(out, " ")
}

// writeInitramfs writes the archive to a new read-only file at p: QEMU
// maps -initrd files, so no one may write to it once it is complete.
func writeInitramfs(p string, files []initramfs.File) (err error) {
	f, err := nofollow.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o400)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(p)
		}
	}()
	w := bufio.NewWriterSize(f, 1<<20)
	if err := initramfs.Write(w, files); err != nil {
		return err
	}
	return w.Flush()
}

// joinCmdline joins the non-empty parts with spaces.
func joinCmdline(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, " ")
}

// checkStaticProgram says whether p can be the only program of an
// initramfs: an x86-64 ELF executable without a program interpreter
// (there is no dynamic loader or shared library beside it).
func checkStaticProgram(p string) error {
	f, err := image.OpenProgram(p, "the linux flavor runs")
	if err != nil {
		return err
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type != elf.PT_INTERP {
			continue
		}
		interp := "a dynamic loader"
		if b, err := readInterp(prog); err == nil {
			interp = b
		}
		return &image.FormatError{Path: p, Err: image.ErrNotBootable,
			Reason: fmt.Sprintf("dynamically linked (needs %s), but it is the only program in the initramfs: build it static (Go: CGO_ENABLED=0; C: -static; Rust: the x86_64-unknown-linux-musl target)", interp)}
	}
	return nil
}

// readInterp reads the program interpreter's path from its segment.
func readInterp(p *elf.Prog) (string, error) {
	b := make([]byte, min(p.Filesz, 4096))
	if _, err := p.ReadAt(b, 0); err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\x00"), nil
}

// Decode implements flavor.Kernel. The image has no exit device: /init ending
// panics the kernel, and with panic=-1 the panic resets the guest, which
// QEMU turns into a pause (GuestReset); Explain reads the exit code or the
// panic from the console. /init powering the guest off is exit 0.
func (*Kernel) Decode(o image.Outcome) guestexit.Exit {
	switch o.Kind {
	case image.GuestReset:
		return guestexit.Exit{Reason: guestexit.ReasonCrash, Detail: "guest reset: a kernel panic (panic=-1) or /init rebooted; VM paused for inspection"}
	case image.QEMUExited:
		if o.Signal == "" && o.Status != 0 {
			// No isa-debug-exit device: a status is QEMU's own failure.
			return guestexit.Exit{Reason: guestexit.ReasonQEMUError, Detail: guestexit.OrDefault(o.Detail, fmt.Sprintf("QEMU exited with status %d", o.Status))}
		}
	}
	return guestexit.Decode(o)
}

// isFile reports whether p is a regular file.
func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// WriteDisk implements flavor.DiskWriter: a GRUB disk that starts the
// build's kernel with its initramfs and command line (the console on
// ttyS0) on DiskMachine. The command line is DiskCmdline's: the address
// comes from DHCP, as a cloud gives it, and the kernel calibrates its TSC
// itself.
func (l *Kernel) WriteDisk(ctx context.Context, img image.Image, path string, opts image.DiskOptions) (image.Disk, error) {
	img.Cmdline = DiskCmdline(img.Cmdline, l.tsc)
	img.Machine, img.MachineOptions = DiskMachine, ""
	d, err := bootdisk.WriteImage(ctx, img, path, opts)
	if err != nil {
		return image.Disk{}, fmt.Errorf("linux: %w", err)
	}
	// The default kernel is built with CONFIG_ENA_ETHERNET=y; of another
	// one nothing is known.
	d.ENA = l.opts.Kernel == ""
	return d, nil
}
