package unikraft

import (
	"bufio"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"

	"github.com/ukdev/ukdev/bootdisk"
	"github.com/ukdev/ukdev/crash"
	"github.com/ukdev/ukdev/guestexit"
	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/project"
	"github.com/ukdev/ukdev/symbols"
)

// QEMU exit statuses of a Unikraft guest with isa-debug-exit at 0x501
// (QEMU exits with (value<<1)|1).
const (
	// StatusHalt is a clean halt or restart: Unikraft writes 41.
	StatusHalt = 41<<1 | 1
	// StatusCrash is a crash: Unikraft writes 42.
	StatusCrash = 42<<1 | 1
)

// Options configure a Unikraft Kernel.
type Options struct {
	// KernelArgs are Unikraft's own parameters (uklibparam:
	// "vfs.fstab=... netdev.ip=..."), before "--" on the command line.
	KernelArgs string
	// AppArgs are the application's arguments, after "--".
	AppArgs string
	// Debug is the path of the .dbg ELF (symbols and DWARF); empty means
	// the booted image's path + ".dbg" when that file exists. A relative
	// path is relative to the current directory.
	Debug string
}

// Kernel prepares and decodes boots of Unikraft unikernels: the build produces the
// stripped multiboot image <name>_qemu-x86_64, booted on pc, and the
// <name>_qemu-x86_64.dbg beside it, read for symbols and source lines.
// It exits through isa-debug-exit (41 halt, 42 crash) and pvpanic. It is
// safe for concurrent use.
type Kernel struct {
	opts Options
}

// New returns the Kernel. It checks that a configured Debug file
// is an ELF file.
func New(opts Options) (*Kernel, error) {
	opts.KernelArgs = strings.TrimSpace(opts.KernelArgs)
	opts.AppArgs = strings.TrimSpace(opts.AppArgs)
	if opts.Debug != "" {
		f, err := elf.Open(opts.Debug)
		if errors.Is(err, fs.ErrNotExist) {
			// The build makes it; Prepare copies it and says if it is missing.
			return &Kernel{opts: opts}, nil
		}
		if err != nil {
			return nil, fmt.Errorf("unikraft: debug file %s: %w", opts.Debug, err)
		}
		f.Close()
	}
	return &Kernel{opts: opts}, nil
}

// Cmdline joins Unikraft's kernel arguments and the application's
// with "--", as Unikraft expects: "<kernel args> -- <app args>". Without
// kernel arguments it is the application's arguments alone; with kernel
// arguments and no application arguments it ends with "--", so that
// Unikraft knows where its parameters end.
func Cmdline(kernelArgs, appArgs string) string {
	kernelArgs, appArgs = strings.TrimSpace(kernelArgs), strings.TrimSpace(appArgs)
	if kernelArgs == "" {
		return appArgs
	}
	return strings.TrimSpace(kernelArgs + " -- " + appArgs)
}

// Prepare implements flavor.Kernel. a.Kernel is the stripped image
// (<name>_qemu-x86_64); the symbols come from the options' Debug, else
// a.Symbols, else a.Kernel + ".dbg" when it exists, else the image
// itself. The command line is the options' kernel and application
// arguments (Cmdline), or a.Cmdline when both are empty.
func (u *Kernel) Prepare(ctx context.Context, store *image.Store, build int, a image.Artifacts, inUse ...int) (image.Image, error) {
	if a.Kernel == "" {
		return image.Image{}, fmt.Errorf("unikraft: prepare build %d: no kernel image configured", build)
	}
	protos, err := image.Inspect(a.Kernel)
	if errors.Is(err, fs.ErrNotExist) {
		return image.Image{}, fmt.Errorf("unikraft: %s: %w", a.Kernel, image.ErrMissingArtifact)
	}
	if err != nil {
		return image.Image{}, err
	}
	if err := checkImage(a.Kernel, protos); err != nil {
		return image.Image{}, err
	}
	a.Symbols = u.debugFile(a)
	if u.opts.KernelArgs != "" || u.opts.AppArgs != "" {
		a.Cmdline = Cmdline(u.opts.KernelArgs, u.opts.AppArgs)
	}
	img, err := store.Copy(ctx, build, a, inUse...)
	if err != nil {
		return image.Image{}, err
	}
	img.Protocols = protos
	// Always pc, even for an image with a PVH note: Unikraft's kvm
	// platform expects a PC (PIC, PIT, ACPI power-off, virtio on PCI),
	// which microvm is not.
	img.Machine = "pc"
	img.DebugExit = true
	img.PVPanic = true
	return img, nil
}

// debugFile picks the symbol file of a build (see Prepare).
func (u *Kernel) debugFile(a image.Artifacts) string {
	switch {
	case u.opts.Debug != "":
		return u.opts.Debug
	case a.Symbols != "":
		return a.Symbols
	case isFile(a.Kernel + ".dbg"):
		return a.Kernel + ".dbg"
	}
	return ""
}

// checkImage says why path cannot be booted: QEMU's multiboot
// loader takes only 32-bit ELF files, so the 64-bit .dbg (which has no
// PVH note either) is refused with a pointer to the stripped image.
func checkImage(p string, protos image.Protocols) error {
	if protos.Has(image.PVH) || protos.Has(image.LinuxBoot) {
		return nil
	}
	if !protos.Has(image.Multiboot) {
		return &image.FormatError{Path: p, Err: image.ErrNotBootable,
			Reason: "no multiboot v1 header or PVH note: boot the stripped <name>_qemu-x86_64 image of a Unikraft qemu/x86_64 build"}
	}
	f, err := elf.Open(p)
	if err != nil {
		// Not ELF: a multiboot header with its own load addresses.
		return nil
	}
	defer f.Close()
	if f.Class == elf.ELFCLASS64 {
		return &image.FormatError{Path: p, Err: image.ErrNotBootable,
			Reason: "a 64-bit ELF without a PVH note, which QEMU's multiboot loader refuses (the .dbg?): boot the stripped 32-bit <name>_qemu-x86_64 and keep the .dbg for symbols"}
	}
	return nil
}

// Decode implements flavor.Kernel. Status 85 ((42<<1)|1) is Unikraft's crash and
// 83 ((41<<1)|1) its clean halt; a guest power-off (older Unikraft halts
// through ACPI first) is a clean exit too. QEMU's status 0 is taken for a
// halt as well (QEMU run without -action shutdown=pause exits 0 on the
// guest's ACPI power-off), except when QEMU said it was terminated by a
// signal. Other odd statuses are exit codes, as for any isa-debug-exit
// kernel; GUEST_PANICKED is a panic.
func (*Kernel) Decode(o image.Outcome) guestexit.Exit {
	if o.Kind == image.QEMUExited && o.Signal == "" {
		switch {
		case o.Status == StatusCrash:
			return guestexit.Exit{Reason: guestexit.ReasonCrash, Detail: "Unikraft crashed (QEMU status 85)"}
		case o.Status == StatusHalt:
			return guestexit.Exit{Reason: guestexit.ReasonExit, Code: 0, HasCode: true, Detail: "Unikraft halted"}
		case o.Status == 0 && !strings.Contains(o.Detail, "terminating on signal"):
			return guestexit.Exit{Reason: guestexit.ReasonExit, Code: 0, HasCode: true, Detail: "Unikraft halted (QEMU exited 0)"}
		}
	}
	e := guestexit.Decode(o)
	if o.Kind == image.GuestShutdown {
		e.Detail = guestexit.OrDefault(o.Detail, "Unikraft halted (guest powered off)")
	}
	return e
}

// Explain implements flavor.ConsoleExplainer: a crash report on the console,
// symbolised against the image's .dbg (function and file:line), and the
// HWRNG failure of QEMU < 8 under TCG (see Explain).
func (u *Kernel) Explain(e guestexit.Exit, console []string, img image.Image) (guestexit.Exit, *crash.Crash) {
	var syms *symbols.Table
	var lines *symbols.LineTable
	if img.Symbols != "" {
		syms, _ = symbols.Load(img.Symbols)
		lines, _ = symbols.LoadLineTable(img.Symbols)
	}
	return Explain(e, console, syms, lines)
}

// kraftfileNames are the names kraft reads a project's Kraftfile from.
var kraftfileNames = []string{"Kraftfile", "kraftfile", "Kraftfile.yaml", "Kraftfile.yml", "kraft.yaml", "kraft.yml"}

// ukMakefile recognises a Unikraft application Makefile: it names
// UK_ROOT, or hands the build to Unikraft's with A= (the app) and L= (its
// libraries).
var ukMakefile = regexp.MustCompile(`\bUK_ROOT\b|\$\(MAKE\)\s.*\bA=`)

// Project is what a directory shows of a Unikraft project.
type Project struct {
	// Kraftfile is the Kraftfile's name, "" when none.
	Kraftfile string
	// Makefile is the name of a Makefile that builds with Unikraft's
	// build system (UK_ROOT, A=, L=), "" when none.
	Makefile string
	// OtherMakefile is a Makefile that does not look like Unikraft's.
	OtherMakefile string
}

// IsUnikraft says whether the directory is a Unikraft project.
func (p Project) IsUnikraft() bool { return p.Kraftfile != "" || p.Makefile != "" }

// Why says in a few words what makes the directory a Unikraft project.
func (p Project) Why() string {
	switch {
	case p.Kraftfile != "" && p.Makefile != "":
		return fmt.Sprintf("%s and a Unikraft %s (UK_ROOT)", p.Kraftfile, p.Makefile)
	case p.Kraftfile != "":
		return p.Kraftfile
	case p.Makefile != "":
		return fmt.Sprintf("a Unikraft %s (UK_ROOT)", p.Makefile)
	}
	return "no Kraftfile and no Makefile with UK_ROOT"
}

// InspectProject looks at the top of the project tree fsys for a
// Kraftfile and a Unikraft application Makefile. It only reads files: a
// directory it cannot read shows nothing.
func InspectProject(fsys fs.FS) Project {
	var p Project
	for _, n := range kraftfileNames {
		if fileIn(fsys, n) {
			p.Kraftfile = n
			break
		}
	}
	for _, n := range []string{"GNUmakefile", "Makefile", "makefile"} {
		if !fileIn(fsys, n) {
			continue
		}
		if makefileMatches(fsys, n, ukMakefile) {
			p.Makefile = n
		} else if p.OtherMakefile == "" {
			p.OtherMakefile = n
		}
		break
	}
	return p
}

// Detect says whether dir holds a Unikraft project, and why, in
// the words of InspectProject.
func Detect(dir string) (bool, string) {
	p := InspectProject(os.DirFS(dir))
	return p.IsUnikraft(), p.Why()
}

// KraftBuildCommand is the build command of a project with a Kraftfile:
// no prompts (ukdev runs it without a terminal to answer them), plain log
// lines instead of kraft's animated ones, and the qemu/x86_64 target ukdev
// boots.
const KraftBuildCommand = "kraft build --no-prompt --log-type=basic --plat qemu --arch x86_64 ."

// BuildCommand decides how to build the Unikraft project in dir:
// `kraft build` when kraft is installed and the project has a Kraftfile,
// else `make` (for an application Makefile with UK_ROOT, A= and L=). It
// returns the command and one line saying why; an empty command when the
// directory has neither a Kraftfile nor a Makefile.
func BuildCommand(dir string, kraftAvailable bool) (cmd, why string) {
	return buildCommand(InspectProject(os.DirFS(dir)), kraftAvailable, runtime.NumCPU())
}

// buildCommand is BuildCommand for what a directory shows.
func buildCommand(p Project, kraftAvailable bool, jobs int) (cmd, why string) {
	makeCmd := "make"
	if jobs > 1 {
		makeCmd = fmt.Sprintf("make -j%d", jobs)
	}
	switch {
	case p.Kraftfile != "" && kraftAvailable:
		return KraftBuildCommand, fmt.Sprintf("%s found and kraft is installed", p.Kraftfile)
	case p.Kraftfile != "" && p.Makefile != "":
		return makeCmd, fmt.Sprintf("%s found but kraft is not installed: building with the Unikraft %s", p.Kraftfile, p.Makefile)
	case p.Makefile != "":
		return makeCmd, fmt.Sprintf("a Unikraft %s (UK_ROOT) and no Kraftfile", p.Makefile)
	case p.Kraftfile != "":
		return KraftBuildCommand, fmt.Sprintf("%s found but kraft is not installed (and there is no Unikraft Makefile): install kraft from https://unikraft.org/docs/cli/install, or add a Makefile with UK_ROOT", p.Kraftfile)
	case p.OtherMakefile != "":
		return makeCmd, fmt.Sprintf("no Kraftfile; %s does not name UK_ROOT but is the only build there is", p.OtherMakefile)
	}
	return "", "no Kraftfile and no Makefile: set build.command"
}

// KraftInstalled says whether kraft is on the PATH, through lookPath
// (exec.LookPath when nil).
func KraftInstalled(lookPath func(string) (string, error)) bool {
	if lookPath == nil {
		lookPath = exec.LookPath
	}
	_, err := lookPath("kraft")
	return err == nil
}

// imageSuffix ends the name of the bootable image of a qemu/x86_64
// Unikraft build.
const imageSuffix = "_qemu-x86_64"

// FindKernel returns the bootable image of the project in dir,
// relative to dir: <name>_qemu-x86_64 in .unikraft/build (kraft) or
// build (make), the newest when there are several. It returns an error
// wrapping fs.ErrNotExist when there is none (the project was never
// built).
func FindKernel(dir string) (string, error) {
	return findKernel(os.DirFS(dir))
}

func findKernel(fsys fs.FS) (string, error) {
	type candidate struct {
		name string
		mod  int64
	}
	var found []candidate
	for _, d := range []string{".unikraft/build", "build"} {
		entries, err := fs.ReadDir(fsys, d)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if e.IsDir() || !strings.HasSuffix(e.Name(), imageSuffix) {
				continue
			}
			info, err := e.Info()
			if err != nil {
				continue
			}
			found = append(found, candidate{path.Join(d, e.Name()), info.ModTime().UnixNano()})
		}
	}
	if len(found) == 0 {
		return "", fmt.Errorf("unikraft: no *%s image in .unikraft/build or build (not built yet?): %w", imageSuffix, fs.ErrNotExist)
	}
	sort.SliceStable(found, func(i, j int) bool { return found[i].mod > found[j].mod })
	return filepath.FromSlash(found[0].name), nil
}

func fileIn(fsys fs.FS, name string) bool {
	info, err := fs.Stat(fsys, name)
	return err == nil && info.Mode().IsRegular()
}

// makefileMatches says whether a line of the Makefile matches re.
func makefileMatches(fsys fs.FS, name string, re *regexp.Regexp) bool {
	f, err := fsys.Open(name)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		if re.MatchString(sc.Text()) {
			return true
		}
	}
	return false
}

// Locate implements flavor.ArtifactLocator: without kernel.image, the
// newest <name>_qemu-x86_64 the build made; symbols that defaulted to the
// (stripped) image are left for Prepare to find in its .dbg.
func (u *Kernel) Locate(cfg *project.Config, a image.Artifacts) image.Artifacts {
	if a.Kernel == "" {
		if rel, err := FindKernel(cfg.Root); err == nil {
			a.Kernel = filepath.Join(cfg.Root, rel)
		}
	}
	if a.Symbols == cfg.Kernel.Image {
		a.Symbols = ""
	}
	return a
}

// isFile reports whether p is a regular file.
func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// WriteDisk implements flavor.DiskWriter: a GRUB disk that starts the
// multiboot image on pc with the image's command line.
func (*Kernel) WriteDisk(ctx context.Context, img image.Image, path string, opts image.DiskOptions) (image.Disk, error) {
	d, err := bootdisk.WriteImage(ctx, img, path, opts)
	if err != nil {
		return image.Disk{}, fmt.Errorf("unikraft: %w", err)
	}
	return d, nil
}
