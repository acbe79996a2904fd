package project

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"go/parser"
	"go/scanner"
	"go/token"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Detection is a guess at how the project in a directory is built and
// booted: what `ukdev init` writes to a first ukdev.toml, and what ukdev
// runs with in a directory without one.
type Detection struct {
	// Flavor is the guessed flavor, one of Flavors().
	Flavor string
	// Source names the files that decided the flavor, for messages:
	// "Kraftfile", "config.json", "go.mod and main.go", "Makefile"; empty
	// when nothing did (the elf default).
	Source string
	// Reason explains the guess in one human line, such as "Makefile
	// builds build/hello.elf".
	Reason string
	// Complete says the detection names everything a config needs to
	// build and boot the project, so that ukdev can run with it when there
	// is no ukdev.toml; an incomplete one holds placeholders to edit.
	Complete bool
	// BuildCommand is the guessed build command, empty when none was found
	// or when the flavor picks its own (unikraft: kraft build or make).
	BuildCommand string
	// Image is the guessed kernel path relative to the directory (slash
	// separated), empty when none was found or when the flavor finds it
	// (unikraft). For nanos and linux it is the program the build produces.
	Image string
	// OpsConfig is the ops config the project already has, relative to the
	// directory (OpsConfigName); empty when it has none, and OpsConfigFile
	// renders one for a nanos project.
	OpsConfig string
	// Ports are the TCP ports a Go program listens on, read from the
	// listen addresses (":8080") in its sources: a linux project forwards
	// them, and OpsConfigFile writes them for a nanos one.
	Ports []int
	// LinuxKernelVersion is the version of the default Linux kernel
	// module that InitFile pins for a linux project; empty leaves the key
	// commented. Detect never sets it: the caller knows the kernels.
	LinuxKernelVersion string
}

// OpsConfigName is the name of an ops project config, the file ops reads
// with -c and the nanos flavor reads by default.
const OpsConfigName = "config.json"

// linuxProgram is the program a linux project's go build writes; the
// flavor runs it as /init, so its name matters only on the host.
const linuxProgram = "app"

// Limits on the search for an existing kernel, so that Detect stays quick
// in a large tree.
const (
	detectMaxDepth   = 4
	detectMaxEntries = 5000
)

// Detect guesses how the project in dir is built and booted. The first
// rule that matches decides:
//
//  1. a Kraftfile, or a Makefile that hands the build to Unikraft's
//     (UK_ROOT, or $(MAKE) ... A=): unikraft, built with kraft build or
//     make as the flavor decides, booting the image it finds;
//  2. an ops config (config.json): nanos, running the config's Program
//     (else one named after the directory), built with go build when there
//     are Go sources, else make when there is a Makefile;
//  3. a Go main package: linux, the program built with
//     `CGO_ENABLED=0 go build -o app .` and run as /init; complete only
//     when a go.mod is in dir or above it (go build needs one);
//  4. otherwise elf: a Makefile means "make", and the kernel image is an
//     ELF path the Makefile mentions or else an ELF executable already in
//     the tree; complete only with both a Makefile and an image.
//
// A ukdev.toml, which comes before all of these, is the caller's to find
// (Find). Detect reads files but never runs anything, and returns a best
// guess even when it finds nothing.
func Detect(dir string) Detection {
	if d, ok := detectUnikraft(dir); ok {
		return d
	}
	if d, ok := detectOps(dir); ok {
		return d
	}
	if d, ok := detectGo(dir, "linux"); ok {
		return d
	}
	return detectELF(dir)
}

// DetectFlavor is Detect for a flavor the user chose: the guesses that
// flavor's rule makes, or placeholders when it does not match. A Go main
// package without an ops config is a nanos project for it when asked for
// nanos (OpsConfigFile then renders the missing config). An empty flavor
// is Detect; one not in Flavors() is an error.
func DetectFlavor(dir, flavor string) (Detection, error) {
	if flavor == "" {
		return Detect(dir), nil
	}
	if !slices.Contains(Flavors(), flavor) {
		return Detection{}, fmt.Errorf("project: detect: flavor %q is not supported; supported: %s", flavor, strings.Join(Flavors(), ", "))
	}
	d, ok := Detection{}, false
	switch flavor {
	case "unikraft":
		d, ok = detectUnikraft(dir)
	case "nanos":
		if d, ok = detectOps(dir); !ok {
			d, ok = detectGo(dir, "nanos")
		}
	case "linux":
		d, ok = detectGo(dir, "linux")
	default:
		d, ok = detectELF(dir), true
	}
	if ok {
		return d, nil
	}
	d = Detection{Flavor: flavor, Reason: "flavor " + flavor + " chosen, but " + missing(flavor)}
	switch flavor {
	case "nanos":
		d.Image = placeholderProgram
	case "linux":
		d.Image = linuxProgram
	}
	return d, nil
}

// missing says what a flavor's rule did not find, for DetectFlavor.
func missing(flavor string) string {
	switch flavor {
	case "unikraft":
		return "there is no Kraftfile or Unikraft Makefile: set build.command"
	case "nanos":
		return "there is no ops config or Go program: set build.command and kernel.image"
	case "linux":
		return "there is no Go main package: set build.command and kernel.image to a static program"
	}
	return "nothing was found"
}

// detectELF is Detect's last rule: a kernel built by a Makefile, or an ELF
// executable in the tree.
func detectELF(dir string) Detection {
	d := Detection{Flavor: DefaultFlavor}
	makefile, data := readMakefile(dir)
	if makefile != "" {
		d.BuildCommand = "make"
		d.Source = makefile
		if img := imageFromMakefile(dir, data); img != "" {
			d.Image = img
			d.Reason = oneLine(makefile + " builds " + img)
			d.Complete = true
			return d
		}
	}
	img := findELF(dir)
	switch {
	case makefile != "" && img != "":
		d.Image = img
		d.Reason = oneLine(makefile + " found; " + img + " is an ELF executable")
		d.Complete = true
	case makefile != "":
		d.Reason = oneLine(makefile + " found; set kernel.image to the kernel it builds")
	case img != "":
		d.Image = img
		d.Reason = oneLine("found ELF executable " + img + "; set build.command")
	default:
		d.Reason = "no Makefile or ELF kernel found; set build.command and kernel.image"
	}
	return d
}

// kraftfileNames are the names kraft reads a project's Kraftfile from (the
// unikraft flavor's own list, kept in step).
var kraftfileNames = []string{"Kraftfile", "kraftfile", "Kraftfile.yaml", "Kraftfile.yml", "kraft.yaml", "kraft.yml"}

// ukMakefile recognises a Unikraft application Makefile: it names
// UK_ROOT, or hands the build to Unikraft's with A= (the app) and L= (its
// libraries). The unikraft flavor uses the same rule.
var ukMakefile = regexp.MustCompile(`\bUK_ROOT\b|\$\(MAKE\)\s.*\bA=`)

// detectUnikraft is Detect's first rule. The build command and the image
// are left to the flavor: kraft build or make depends on what is installed
// when the build runs, and the image's name on the Kraftfile or the
// build's configuration.
func detectUnikraft(dir string) (Detection, bool) {
	kraftfile := ""
	for _, n := range kraftfileNames {
		if fileExists(filepath.Join(dir, n)) {
			kraftfile = n
			break
		}
	}
	makefile, data := readMakefile(dir)
	if makefile != "" && !slices.ContainsFunc(strings.Split(string(data), "\n"), ukMakefile.MatchString) {
		makefile = ""
	}
	d := Detection{Flavor: "unikraft", Complete: true}
	switch {
	case kraftfile != "" && makefile != "":
		d.Source = kraftfile + " and a Unikraft " + makefile + " (UK_ROOT)"
		d.Reason = d.Source + ": a Unikraft project, built with kraft build when kraft is installed, else make"
	case kraftfile != "":
		d.Source = kraftfile
		d.Reason = kraftfile + ": a Unikraft project, built with kraft build"
	case makefile != "":
		d.Source = "a Unikraft " + makefile + " (UK_ROOT)"
		d.Reason = makefile + " hands the build to Unikraft's (UK_ROOT, A=, L=): a Unikraft application, built with make"
	default:
		return Detection{}, false
	}
	d.Reason = oneLine(d.Reason + "; the image is the newest *_qemu-x86_64 in .unikraft/build or build")
	return d, true
}

// readMakefile returns the name and content of the makefile make would use.
func readMakefile(dir string) (string, []byte) {
	for _, name := range []string{"GNUmakefile", "makefile", "Makefile"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err == nil {
			return name, data
		}
	}
	return "", nil
}

// imageFromMakefile picks the kernel a makefile builds: the first literal
// path ending in ".elf", else the first literal path that already is an ELF
// executable. Paths built from variables ("$(BUILD)/x.elf") are skipped: the
// makefile would have to be evaluated to know them.
func imageFromMakefile(dir string, data []byte) string {
	words := strings.FieldsFunc(string(data), func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\n' || r == '\r' || strings.ContainsRune("=:;,\"'|<>", r)
	})
	var candidates []string
	for _, w := range words {
		w = strings.TrimPrefix(w, "./")
		if w == "" || strings.ContainsAny(w, "$%*?()[]{}\\#") || filepath.IsAbs(w) || strings.HasPrefix(w, "-") || strings.HasPrefix(w, "../") {
			continue
		}
		if strings.HasSuffix(w, ".elf") {
			return w
		}
		candidates = append(candidates, w)
	}
	for _, w := range candidates {
		if isELFExec(filepath.Join(dir, filepath.FromSlash(w))) {
			return w
		}
	}
	return ""
}

// findELF looks for an ELF executable in the tree under dir, preferring a
// file named *.elf, then the shallowest; hidden directories are skipped.
func findELF(dir string) string {
	best, bestScore := "", -1
	entries := 0
	_ = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		entries++
		if err != nil || entries > detectMaxEntries {
			return filepath.SkipDir
		}
		rel, relErr := filepath.Rel(dir, p)
		if relErr != nil {
			return nil
		}
		depth := strings.Count(rel, string(filepath.Separator))
		if e.IsDir() {
			if rel != "." && (strings.HasPrefix(e.Name(), ".") || e.Name() == "node_modules" || depth >= detectMaxDepth) {
				return filepath.SkipDir
			}
			return nil
		}
		if !e.Type().IsRegular() || !isELFExec(p) {
			return nil
		}
		score := 100 - depth
		if strings.HasSuffix(e.Name(), ".elf") {
			score += 1000
		}
		if score > bestScore {
			best, bestScore = filepath.ToSlash(rel), score
		}
		return nil
	})
	return best
}

// isELFExec reports whether the file at p is an ELF executable (ET_EXEC),
// the type of a kernel; object files and shared libraries are not.
func isELFExec(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	var hdr [18]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil {
		return false
	}
	if !bytes.Equal(hdr[:4], []byte("\x7fELF")) {
		return false
	}
	const etExec = 2
	switch hdr[5] {
	case 1:
		return binary.LittleEndian.Uint16(hdr[16:]) == etExec
	case 2:
		return binary.BigEndian.Uint16(hdr[16:]) == etExec
	}
	return false
}

// oneLine keeps a message on one line, whatever file names it holds.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// detectOps is Detect's second rule: an ops config makes a Nanos
// project.
func detectOps(dir string) (Detection, bool) {
	program, isOps := readOpsConfig(filepath.Join(dir, OpsConfigName))
	if !isOps {
		return Detection{}, false
	}
	d := Detection{Flavor: "nanos", Source: OpsConfigName, OpsConfig: OpsConfigName, Image: program, Complete: true}
	from := "its Program"
	if program == "" {
		d.Image, from = programName(dir), "named after the directory"
	}
	reason := fmt.Sprintf("%s is an ops config; program %s (%s)", OpsConfigName, d.Image, from)
	switch makefile, _ := readMakefile(dir); {
	case hasGoSources(dir):
		d.BuildCommand = goBuildCommand(d.Image)
		reason += ", built with go build"
	case makefile != "":
		d.BuildCommand = "make"
		reason += ", built by " + makefile
	default:
		reason += "; set build.command"
	}
	d.Reason = oneLine(reason)
	return d, true
}

// detectGo recognises a Go main package in dir, a program for flavor
// (linux runs it as /init, nanos as its program), built static with go
// build.
func detectGo(dir, flavor string) (Detection, bool) {
	main := mainFile(dir)
	if main == "" {
		return Detection{}, false
	}
	main = oneLine(main)
	d := Detection{Flavor: flavor, Source: main, Ports: listenPorts(dir)}
	var reason string
	if flavor == "nanos" {
		d.Image = programName(dir)
		reason = main + " is a Go program, run by Nanos as " + d.Image
	} else {
		d.Image = linuxProgram
		reason = main + " is a Go program, run by Linux as /init"
	}
	d.BuildCommand = goBuildCommand(d.Image)
	switch len(d.Ports) {
	case 0:
	case 1:
		reason += fmt.Sprintf(" listening on port %d", d.Ports[0])
	default:
		reason += " listening on ports " + joinInts(d.Ports)
	}
	switch mod := goModFor(dir); {
	case mod == "go.mod":
		d.Source = "go.mod and " + main
		d.Complete = true
	case mod != "":
		d.Source = main + " (module " + mod + ")"
		d.Complete = true
	default:
		reason += "; there is no go.mod: run `go mod init` first"
	}
	if flavor == "nanos" {
		// The nanos flavor reads the program's arguments and ports from
		// the ops config that init writes beside it.
		d.Complete = false
	}
	d.Reason = oneLine(reason)
	return d, true
}

// mainFile names a file of dir's Go package when that package is main:
// main.go when it is one, else the first file that is.
func mainFile(dir string) string {
	if isMainPackage(filepath.Join(dir, "main.go")) {
		return "main.go"
	}
	for _, p := range goFiles(dir) {
		if isMainPackage(p) {
			return filepath.Base(p)
		}
	}
	return ""
}

// goModFor finds the go.mod of the module dir is in, walking up: "go.mod"
// when it is in dir, else its path relative to dir, "" when there is none.
func goModFor(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	for d := abs; ; {
		if fileExists(filepath.Join(d, "go.mod")) {
			rel, err := filepath.Rel(abs, filepath.Join(d, "go.mod"))
			if err != nil {
				return ""
			}
			return filepath.ToSlash(rel)
		}
		parent := filepath.Dir(d)
		if parent == d {
			return ""
		}
		d = parent
	}
}

// opsKeys are top-level keys of ops configs: a JSON object with one of
// them (or an empty one) is taken for an ops config.
var opsKeys = []string{
	"Args", "BaseVolumeSz", "Boot", "CloudConfig", "Debugflags", "Dirs", "DisableArgsCopy", "Env",
	"Files", "Kernel", "KlibDir", "Klibs", "LocalFilesParentDirectory", "ManifestPassthrough", "MapDirs",
	"Mounts", "NameServers", "NanosVersion", "NightlyBuild", "Program", "ProgramPath", "RebootOnExit",
	"RunConfig", "TargetRoot", "Uefi", "VolumesDir",
}

// readOpsConfig says whether the file at p is an ops config and returns
// its Program made a local relative path ("" when it names none). Keys
// match case-insensitively, as they do for ops.
func readOpsConfig(p string) (program string, ok bool) {
	data, err := os.ReadFile(p)
	if err != nil {
		return "", false
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil || top == nil {
		return "", false
	}
	ok = len(top) == 0
	for k, raw := range top {
		if !slices.ContainsFunc(opsKeys, func(known string) bool { return strings.EqualFold(known, k) }) {
			continue
		}
		ok = true
		if strings.EqualFold(k, "Program") {
			var s string
			if json.Unmarshal(raw, &s) == nil {
				program = localProgram(s)
			}
		}
	}
	return program, ok
}

// localProgram makes a config's Program a clean path inside the project;
// a path outside it (absolute, or leading out with "..") keeps only its
// base name.
func localProgram(s string) string {
	s = strings.TrimSpace(filepath.ToSlash(s))
	if s == "" {
		return ""
	}
	c := path.Clean(s)
	if path.IsAbs(c) || c == ".." || strings.HasPrefix(c, "../") {
		c = path.Base(c)
	}
	if c == "." || c == "/" || c == ".." {
		return ""
	}
	return c
}

// programName names a program after the directory, keeping only the
// characters safe in a file name and a shell word; "app" when nothing is
// left.
func programName(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-' {
			return r
		}
		return '-'
	}, filepath.Base(abs))
	name = strings.TrimLeft(name, ".-")
	if name == "" {
		return "app"
	}
	return name
}

// goBuildCommand builds a static Linux program, the kind Nanos runs with
// no shared libraries to add to the image.
func goBuildCommand(program string) string {
	return "CGO_ENABLED=0 go build -o " + shellWord(program) + " ."
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9._/+-]+$`)

// shellWord quotes s for sh when it holds anything but safe characters.
func shellWord(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// hasGoSources reports whether dir holds a Go module or Go files.
func hasGoSources(dir string) bool {
	if fi, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil && fi.Mode().IsRegular() {
		return true
	}
	return len(goFiles(dir)) > 0
}

// goFiles lists the Go files of the package in dir, tests left out, sorted.
func goFiles(dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		n := e.Name()
		if e.Type().IsRegular() && strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go") {
			out = append(out, filepath.Join(dir, n))
		}
	}
	return out
}

// isMainPackage reports whether the Go file at p is in package main.
func isMainPackage(p string) bool {
	f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.PackageClauseOnly)
	return err == nil && f.Name != nil && f.Name.Name == "main"
}

// listenAddr matches a string literal that is a listen address on every
// interface: ":8080", "0.0.0.0:8080", "[::]:8080".
var listenAddr = regexp.MustCompile(`^(?:|0\.0\.0\.0|\[::\]):([0-9]{1,5})$`)

// listenPorts returns the ports of the listen addresses in the string
// literals of the Go files in dir, in the order found, each once. A
// server listening on the loopback only cannot be reached in a VM, and an
// address built at run time cannot be read, so both are left out.
func listenPorts(dir string) []int {
	var ports []int
	for _, p := range goFiles(dir) {
		src, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		fset := token.NewFileSet()
		var s scanner.Scanner
		s.Init(fset.AddFile(p, -1, len(src)), src, nil, 0)
		for {
			_, tok, lit := s.Scan()
			if tok == token.EOF {
				break
			}
			if tok != token.STRING {
				continue
			}
			v, err := strconv.Unquote(lit)
			if err != nil {
				continue
			}
			m := listenAddr.FindStringSubmatch(v)
			if m == nil {
				continue
			}
			if n, err := strconv.Atoi(m[1]); err == nil && n >= 1 && n <= 65535 && !slices.Contains(ports, n) {
				ports = append(ports, n)
			}
		}
	}
	return ports
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}
