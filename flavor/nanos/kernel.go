package nanos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/ukdev/ukdev/flavor/nanos/nanosimg"
	"github.com/ukdev/ukdev/flavor/nanos/ops"
	"github.com/ukdev/ukdev/guestexit"
	"github.com/ukdev/ukdev/image"
)

// Boot says how a Nanos image boots.
type Boot string

// The ways a Nanos image boots.
const (
	// BootDirect boots kernel.img with -kernel (PVH) on microvm, the
	// image as a virtio-mmio disk: the fastest boot. When kernel.img has
	// no PVH note it falls back to BootDisk. It is the default.
	BootDirect Boot = "direct"
	// BootDisk boots the image from its own boot loader (boot.img)
	// on q35, as ops does.
	BootDisk Boot = "disk"
)

// Nanos exit statuses that are not (code<<1)|1 of the program's code.
const (
	// StatusKernelFault is QEMU's status when the Nanos kernel faults.
	StatusKernelFault = 253
	// StatusHalt is QEMU's status when the Nanos kernel halts (out of
	// memory among other fatal conditions).
	StatusHalt = 255
)

// File is a file added to a Nanos image: from the host file Host, or
// with contents Data.
type File struct {
	// Path is the absolute path in the image.
	Path string
	Host string
	Data []byte
}

// Options configure a Nanos Kernel.
type Options struct {
	// Config is the project's ops config; nil means an empty one.
	Config *ops.Config
	// Dir is the directory the config's relative Files, Dirs and MapDirs
	// are relative to (the config's LocalFilesParentDirectory, itself
	// relative to Dir, takes precedence); "" means the current directory.
	Dir string
	// Kernel is the Nanos release to boot: kernel.img is required, boot.img
	// for disk boot, the klibs directory for the config's Klibs.
	Kernel ops.Kernel
	// Boot is BootDirect (the default when empty) or BootDisk.
	Boot Boot
	// ExtraFiles are added to the image last, replacing files of the same
	// path.
	ExtraFiles []File
	// LibraryDirs are where the shared libraries of a dynamic program are
	// looked up; nil means DefaultLibraryDirs().
	LibraryDirs []string
}

// ErrConfig is returned (wrapped) when the ops config asks for
// something that cannot be put in the image (a missing file or klib).
var ErrConfig = errors.New("bad Nanos config")

// Kernel prepares and decodes boots of Nanos unikernels: the build
// produces a Linux ELF program, and Prepare writes a Nanos disk image holding it, its shared
// libraries and the ops config's files and manifest. It is safe for
// concurrent use.
type Kernel struct {
	opts  Options
	write func(dst string, s nanosimg.Spec) (nanosimg.Stats, error)

	mu    sync.Mutex
	stats nanosimg.Stats
	// disks maps the disk of each recent image Prepare wrote to the
	// program it holds, so that WriteDisk can write the same image with
	// a boot loader.
	disks map[string]diskSource
}

// diskSource is what an image's disk was written from.
type diskSource struct {
	build   int
	program string // the store's copy of the program
	name    string // the program's file name in the build
}

// keepDiskSources bounds Kernel.disks: the store keeps fewer builds.
const keepDiskSources = 4

// New checks opts (a kernel.img, the klibs the config names, boot.img
// for disk boot) and returns the kernel.
func New(opts Options) (*Kernel, error) {
	if opts.Config == nil {
		opts.Config = &ops.Config{}
	}
	switch opts.Boot {
	case "":
		opts.Boot = BootDirect
	case BootDirect, BootDisk:
	default:
		return nil, fmt.Errorf("nanos: boot %q: want %q or %q: %w", opts.Boot, BootDirect, BootDisk, ErrConfig)
	}
	if opts.Kernel.Kernel == "" {
		return nil, fmt.Errorf("nanos: %w", &ops.NoKernelError{Looked: []string{"no kernel.img configured"}})
	}
	if !isFile(opts.Kernel.Kernel) {
		return nil, fmt.Errorf("nanos: %w", &ops.NoKernelError{Looked: []string{opts.Kernel.Kernel + " (missing)"}})
	}
	if opts.Boot == BootDisk && opts.Kernel.BootImg == "" {
		return nil, fmt.Errorf("nanos: disk boot needs boot.img, and the kernel in %s has none: %w", opts.Kernel.Dir, ErrConfig)
	}
	if _, err := klibFiles(opts.Config.AllKlibs(), opts.Kernel.Klibs); err != nil {
		return nil, err
	}
	if _, err := passthrough(opts.Config.ManifestPassthrough); err != nil {
		return nil, err
	}
	return &Kernel{opts: opts, write: nanosimg.Write}, nil
}

// LastStats returns what the most recent image write did (its size and
// time), the zero Stats before the first.
func (n *Kernel) LastStats() nanosimg.Stats {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stats
}

// Prepare implements flavor.Kernel. a.Kernel is the program ELF. Prepare copies
// it into the store (it is also the image's symbol file: a static program
// runs at its link addresses), writes the build's own Nanos image there,
// and for direct boot copies kernel.img beside it.
func (n *Kernel) Prepare(ctx context.Context, store *image.Store, build int, a image.Artifacts, inUse ...int) (image.Image, error) {
	if a.Kernel == "" {
		return image.Image{}, fmt.Errorf("nanos: prepare build %d: no program configured", build)
	}
	if err := checkProgram(a.Kernel); err != nil {
		return image.Image{}, err
	}
	boot, err := n.bootMode()
	if err != nil {
		return image.Image{}, err
	}
	img, err := store.Copy(ctx, build, image.Artifacts{Kernel: a.Kernel, Cmdline: a.Cmdline}, inUse...)
	if err != nil {
		return image.Image{}, err
	}
	program := img.Kernel
	spec, err := n.spec(program, filepath.Base(a.Kernel), boot)
	if err != nil {
		return image.Image{}, err
	}
	var stats nanosimg.Stats
	img.Disk, err = store.WriteDisk(build, "disk.img", func(p string) error {
		stats, err = n.write(p, spec)
		return err
	})
	if err != nil {
		return image.Image{}, fmt.Errorf("nanos: prepare build %d: %w", build, err)
	}
	n.remember(img.Disk, diskSource{build: build, program: program, name: filepath.Base(a.Kernel)}, stats)

	img.Symbols = program
	// Nanos runs kernel and program on one page table: memsave reads the
	// program's variables at any moment.
	img.SymbolSpace = image.SpaceVirtual
	img.Cmdline = ""
	img.DebugExit = true
	img.Balloon = true
	img.RNG = true
	switch boot {
	case BootDirect:
		if img.Kernel, err = store.AddFile(ctx, build, n.opts.Kernel.Kernel, "kernel.img"); err != nil {
			return image.Image{}, err
		}
		img.Protocols = image.PVH
		img.Machine = "microvm"
		img.MachineOptions = "rtc=on,ioapic2=off"
	default:
		img.Kernel = ""
		img.Machine = "q35"
	}
	return img, nil
}

// remember records the stats of the newest image write and what its disk
// holds, forgetting the oldest builds' disks.
func (n *Kernel) remember(disk string, src diskSource, stats nanosimg.Stats) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.stats = stats
	if n.disks == nil {
		n.disks = map[string]diskSource{}
	}
	n.disks[disk] = src
	for len(n.disks) > keepDiskSources {
		oldest := ""
		for d, s := range n.disks {
			if oldest == "" || s.build < n.disks[oldest].build {
				oldest = d
			}
		}
		delete(n.disks, oldest)
	}
}

// WriteDisk implements flavor.DiskWriter: the image Prepare wrote, with
// ops' boot.img (stage 1 and 2) in front of its partitions instead of a
// bare MBR, which q35's BIOS boots (as ops images boot on clouds). The
// direct boot mode's image is not disk-bootable: its MBR has no code, and
// boot.img moves the partitions, so the image is written again. A kernel
// without boot.img is refused with image.ErrNoDiskBoot.
func (n *Kernel) WriteDisk(ctx context.Context, img image.Image, path string, opts image.DiskOptions) (image.Disk, error) {
	if n.opts.Kernel.BootImg == "" {
		return image.Disk{}, fmt.Errorf("nanos: write disk: the Nanos kernel in %s has no boot.img, the loader a disk boots through: %w",
			n.opts.Kernel.Dir, image.ErrNoDiskBoot)
	}
	n.mu.Lock()
	src, ok := n.disks[img.Disk]
	n.mu.Unlock()
	if !ok {
		return image.Disk{}, fmt.Errorf("nanos: write disk: build %d's image (%s) was not prepared by this kernel, or is too old", img.Build, img.Disk)
	}
	spec, err := n.spec(src.program, src.name, BootDisk)
	if err != nil {
		return image.Disk{}, err
	}
	spec.Size = max(spec.Size, opts.MinSize)
	if err := ctx.Err(); err != nil {
		return image.Disk{}, err
	}
	// nanosimg writes beside path and renames: a failure leaves nothing.
	stats, err := n.write(path, spec)
	if err != nil {
		return image.Disk{}, fmt.Errorf("nanos: write disk: %w", err)
	}
	if err := ctx.Err(); err != nil {
		os.Remove(path)
		return image.Disk{}, err
	}
	if opts.Progress != nil {
		opts.Progress(stats.Bytes, stats.Bytes)
	}
	// Nanos drives AWS's ENA (ops registers its images with ENA support).
	return image.Disk{Path: path, Size: stats.Bytes, Machine: "q35", Firmware: image.FirmwareBIOS, Loader: "nanos", ENA: true}, nil
}

// bootMode resolves the configured boot to what this kernel can do.
func (n *Kernel) bootMode() (Boot, error) {
	if n.opts.Boot == BootDisk {
		return BootDisk, nil
	}
	protos, err := image.Inspect(n.opts.Kernel.Kernel)
	if err != nil && !errors.Is(err, image.ErrNotBootable) {
		return "", err
	}
	if protos.Has(image.PVH) {
		return BootDirect, nil
	}
	if n.opts.Kernel.BootImg != "" {
		return BootDisk, nil
	}
	return "", &image.FormatError{Path: n.opts.Kernel.Kernel, Err: image.ErrNotBootable,
		Reason: "no PVH note for direct boot and no boot.img beside it for disk boot"}
}

// checkProgram says whether path is a program Nanos can run: an x86-64
// ELF executable.
func checkProgram(p string) error {
	f, err := image.OpenProgram(p, "Nanos runs")
	if err != nil {
		return err
	}
	return f.Close()
}

// spec describes the image of one build: program is the store's copy of
// the program, name its file name.
func (n *Kernel) spec(program, name string, boot Boot) (nanosimg.Spec, error) {
	c := n.opts.Config
	guest := "/" + name
	if c.Program != "" {
		guest = path.Join("/", filepath.ToSlash(c.Program))
	}
	var files fileSet
	files.add(nanosimg.File{Path: guest, Host: program})
	libs, err := sharedLibs(program, n.opts.LibraryDirs)
	if err != nil {
		return nanosimg.Spec{}, err
	}
	for _, l := range libs {
		files.add(nanosimg.File{Path: l.Guest, Host: l.Host})
	}
	nameserver := guestexit.OrDefault(c.NameServer, "10.0.2.3")
	files.add(nanosimg.File{Path: "/etc/resolv.conf", Data: []byte("nameserver " + nameserver + "\n")})
	files.add(nanosimg.File{Path: "/etc/passwd", Data: []byte("root:x:0:0:root:/root:/bin/nobody\n")})
	files.add(nanosimg.File{Path: "/proc/sys/kernel/hostname", Data: []byte(path.Base(guest) + "\n")})

	base := n.opts.Dir
	if c.LocalFilesParentDirectory != "" {
		base = resolve(n.opts.Dir, c.LocalFilesParentDirectory)
	}
	var dirs []string
	for _, f := range c.Files {
		host := resolve(base, f)
		if !isFile(host) {
			return nanosimg.Spec{}, fmt.Errorf("nanos: config Files: %s: no such file (looked at %s): %w", f, host, ErrConfig)
		}
		files.add(nanosimg.File{Path: guestPath(f), Host: host})
	}
	for _, d := range c.Dirs {
		host := resolve(base, d)
		if err := addTree(&files, &dirs, host, guestPath(d)); err != nil {
			return nanosimg.Spec{}, fmt.Errorf("nanos: config Dirs: %s: %w", d, err)
		}
	}
	for _, pattern := range sortedMapKeys(c.MapDirs) {
		hostPattern := resolve(base, pattern)
		matches, err := filepath.Glob(hostPattern)
		if err != nil || len(matches) == 0 {
			return nanosimg.Spec{}, fmt.Errorf("nanos: config MapDirs: %s: nothing matches %s: %w", pattern, hostPattern, ErrConfig)
		}
		parent := filepath.Dir(hostPattern)
		for _, m := range matches {
			rel, err := filepath.Rel(parent, m)
			if err != nil {
				return nanosimg.Spec{}, fmt.Errorf("nanos: config MapDirs: %s: %w", pattern, err)
			}
			target := path.Join("/", filepath.ToSlash(c.MapDirs[pattern]), filepath.ToSlash(rel))
			if err := addTree(&files, &dirs, m, target); err != nil {
				return nanosimg.Spec{}, fmt.Errorf("nanos: config MapDirs: %s: %w", pattern, err)
			}
		}
	}
	for _, f := range n.opts.ExtraFiles {
		files.add(nanosimg.File{Path: f.Path, Host: f.Host, Data: f.Data})
	}

	klibs, err := klibFiles(c.AllKlibs(), n.opts.Kernel.Klibs)
	if err != nil {
		return nanosimg.Spec{}, err
	}
	root, err := n.rootTuple(guest, len(klibs) > 0)
	if err != nil {
		return nanosimg.Spec{}, err
	}
	size, err := ops.ParseSizeBytes(c.BaseVolumeSz)
	if err != nil {
		return nanosimg.Spec{}, fmt.Errorf("nanos: config BaseVolumeSz: %w", err)
	}
	s := nanosimg.Spec{
		Kernel: n.opts.Kernel.Kernel,
		Klibs:  klibs,
		Files:  files.list,
		Dirs:   dirs,
		Root:   root,
		Size:   size,
	}
	if boot == BootDisk {
		s.BootImg = n.opts.Kernel.BootImg
	}
	return s, nil
}

// rootTuple is the image's manifest: what to run, with which arguments
// and environment, and debug_exit so the program's exit code reaches
// QEMU's exit status. ManifestPassthrough comes last and wins.
func (n *Kernel) rootTuple(program string, klibs bool) (*nanosimg.Tuple, error) {
	c := n.opts.Config
	root := nanosimg.NewTuple()
	root.Set("program", program)
	root.Set("arguments", append([]string{path.Base(program)}, c.Args...))
	env := nanosimg.NewTuple()
	vars := map[string]string{"USER": "root", "PWD": "/"}
	for k, v := range c.Env {
		vars[k] = v
	}
	for _, k := range sortedMapKeys(vars) {
		env.Set(k, vars[k])
	}
	root.Set("environment", env)
	if klibs {
		root.Set("klibs", "bootfs")
	}
	root.Set("debug_exit", "t")
	pass, err := passthrough(c.ManifestPassthrough)
	if err != nil {
		return nil, err
	}
	for _, k := range pass.Keys() {
		v, _ := pass.Get(k)
		root.Set(k, v)
	}
	return root, nil
}

// passthrough converts ManifestPassthrough's JSON values into manifest
// values: strings, vectors and tuples; numbers and booleans become their
// text, as Nanos reads every value as a string.
func passthrough(m map[string]any) (*nanosimg.Tuple, error) {
	t := nanosimg.NewTuple()
	for _, k := range sortedMapKeys(m) {
		v, err := manifestValue(m[k], "ManifestPassthrough."+k)
		if err != nil {
			return nil, err
		}
		t.Set(k, v)
	}
	return t, nil
}

func manifestValue(v any, where string) (nanosimg.Value, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case json.Number:
		return v.String(), nil
	case float64:
		return fmt.Sprint(v), nil
	case bool:
		if v {
			return "t", nil
		}
		return "f", nil
	case []any:
		vec := make(nanosimg.Vector, 0, len(v))
		for i, x := range v {
			mv, err := manifestValue(x, fmt.Sprintf("%s[%d]", where, i))
			if err != nil {
				return nil, err
			}
			vec = append(vec, mv)
		}
		return vec, nil
	case map[string]any:
		t := nanosimg.NewTuple()
		for _, k := range sortedMapKeys(v) {
			mv, err := manifestValue(v[k], where+"."+k)
			if err != nil {
				return nil, err
			}
			t.Set(k, mv)
		}
		return t, nil
	default:
		return nil, fmt.Errorf("nanos: config %s: a %T has no manifest form (null?): %w", where, v, ErrConfig)
	}
}

// klibFiles returns the boot filesystem's klibs, each checked to exist in
// dir; the error names the missing ones and those available.
func klibFiles(names []string, dir string) ([]nanosimg.File, error) {
	if len(names) == 0 {
		return nil, nil
	}
	if dir == "" {
		return nil, fmt.Errorf("nanos: config Klibs %s: the kernel has no klibs directory: %w",
			strings.Join(names, ", "), ErrConfig)
	}
	var files []nanosimg.File
	var missing []string
	for _, name := range names {
		host := filepath.Join(dir, name)
		if name != filepath.Base(name) || !isFile(host) {
			missing = append(missing, name)
			continue
		}
		files = append(files, nanosimg.File{Path: name, Host: host})
	}
	if len(missing) > 0 {
		var have []string
		if entries, err := os.ReadDir(dir); err == nil {
			for _, e := range entries {
				have = append(have, e.Name())
			}
		}
		return nil, fmt.Errorf("nanos: config Klibs: %s not in %s (it has: %s): %w",
			strings.Join(missing, ", "), dir, strings.Join(have, ", "), ErrConfig)
	}
	return files, nil
}

// fileSet is the root filesystem's files in order; adding a path again
// replaces the earlier file, so the config's files win over generated ones.
type fileSet struct {
	list  []nanosimg.File
	index map[string]int
}

func (s *fileSet) add(f nanosimg.File) {
	if s.index == nil {
		s.index = map[string]int{}
	}
	if i, ok := s.index[f.Path]; ok {
		s.list[i] = f
		return
	}
	s.index[f.Path] = len(s.list)
	s.list = append(s.list, f)
}

// addTree adds the regular files under host at guest, and the empty
// directories to dirs.
func addTree(files *fileSet, dirs *[]string, host, guest string) error {
	fi, err := os.Stat(host)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if !fi.IsDir() {
		files.add(nanosimg.File{Path: guest, Host: host})
		return nil
	}
	return filepath.WalkDir(host, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("%w: %w", ErrConfig, err)
		}
		rel, err := filepath.Rel(host, p)
		if err != nil {
			return err
		}
		g := path.Join(guest, filepath.ToSlash(rel))
		switch {
		case d.IsDir():
			if empty, _ := isEmptyDir(p); empty {
				*dirs = append(*dirs, g)
			}
		case isFile(p):
			// Symbolic links to files are copied as the files they name.
			files.add(nanosimg.File{Path: g, Host: p})
		}
		return nil
	})
}

func isEmptyDir(p string) (bool, error) {
	entries, err := os.ReadDir(p)
	return len(entries) == 0, err
}

// resolve makes p absolute against base.
func resolve(base, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	if base == "" {
		base = "."
	}
	abs, err := filepath.Abs(filepath.Join(base, p))
	if err != nil {
		return filepath.Join(base, p)
	}
	return abs
}

// guestPath is where a config path lands in the image: the same path,
// rooted ("static/a.css" → "/static/a.css").
func guestPath(p string) string {
	return path.Join("/", filepath.ToSlash(filepath.Clean(p)))
}

func sortedMapKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Decode implements flavor.Kernel. With debug_exit in the manifest QEMU exits
// (code<<1)|1 with the program's code, and 253 or 255 when the kernel
// itself faulted or halted (out of memory among other causes). Statuses
// 253 and 255 are also what a program's exit 126 and 127 give: Decode
// takes them for the kernel, and Explain can correct that with the
// console. A program killed by a signal exits with the signal's number
// (SIGSEGV: 11, status 23); Explain turns that into a crash when the
// console shows the signal.
func (*Kernel) Decode(o image.Outcome) guestexit.Exit {
	if o.Kind == image.QEMUExited && o.Signal == "" {
		switch o.Status {
		case StatusKernelFault:
			return guestexit.Exit{Reason: guestexit.ReasonCrash, Detail: "Nanos kernel fault (QEMU status 253)"}
		case StatusHalt:
			return guestexit.Exit{Reason: guestexit.ReasonCrash, Detail: "Nanos kernel halt, e.g. out of memory (QEMU status 255)"}
		}
	}
	return guestexit.Decode(o)
}
