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
// booted, for writing a first ukdev.toml.
type Detection struct {
	// Flavor is the guessed flavor, one of Flavors().
	Flavor string
	// Reason explains the guess in one human line, such as "Makefile
	// builds build/hello.elf".
	Reason string
	// BuildCommand is the guessed build command, empty when none was found.
	BuildCommand string
	// Image is the guessed kernel path relative to the directory (slash
	// separated), empty when none was found. For nanos it is the program
	// the build produces.
	Image string
	// OpsConfig is the ops config the project already has, relative to the
	// directory (OpsConfigName); empty when it has none, and OpsConfigFile
	// renders one for a nanos project.
	OpsConfig string
	// Ports are the TCP ports a nanos program without an ops config listens
	// on, read from the listen addresses (":8080") in its Go sources.
	Ports []int
}

// OpsConfigName is the name of an ops project config, the file ops reads
// with -c and the nanos flavor reads by default.
const OpsConfigName = "config.json"

// Limits on the search for an existing kernel, so that Detect stays quick
// in a large tree.
const (
	detectMaxDepth   = 4
	detectMaxEntries = 5000
)

// Detect guesses how the project in dir is built. An ops config
// (config.json) or a Go main package (main.go) make it a nanos project:
// the program is the config's Program or is named after the directory,
// built with go build when there are Go sources. Otherwise it is an elf
// project: a Makefile means "make", and the kernel image is an ELF path
// the Makefile mentions or else an ELF executable already in the tree. It
// reads files but never runs anything, and returns a best guess even when
// it finds nothing.
func Detect(dir string) Detection {
	if d, ok := detectNanos(dir); ok {
		return d
	}
	d := Detection{Flavor: DefaultFlavor}
	makefile, data := readMakefile(dir)
	if makefile != "" {
		d.BuildCommand = "make"
		if img := imageFromMakefile(dir, data); img != "" {
			d.Image = img
			d.Reason = oneLine(makefile + " builds " + img)
			return d
		}
	}
	img := findELF(dir)
	switch {
	case makefile != "" && img != "":
		d.Image = img
		d.Reason = oneLine(makefile + " found; " + img + " is an ELF executable")
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

// detectNanos recognises a Nanos project: one with an ops config, or a Go
// main package (which Nanos runs unmodified once built as a static Linux
// program).
func detectNanos(dir string) (Detection, bool) {
	program, isOps := readOpsConfig(filepath.Join(dir, OpsConfigName))
	goSources := hasGoSources(dir)
	switch {
	case isOps:
		d := Detection{Flavor: "nanos", OpsConfig: OpsConfigName, Image: program}
		from := "its Program"
		if program == "" {
			d.Image, from = programName(dir), "named after the directory"
		}
		reason := fmt.Sprintf("%s is an ops config; program %s (%s)", OpsConfigName, d.Image, from)
		switch makefile, _ := readMakefile(dir); {
		case goSources:
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
	case isMainPackage(filepath.Join(dir, "main.go")):
		d := Detection{Flavor: "nanos", Image: programName(dir), Ports: listenPorts(dir)}
		d.BuildCommand = goBuildCommand(d.Image)
		reason := "main.go is a Go program, run by Nanos as " + d.Image
		switch len(d.Ports) {
		case 0:
		case 1:
			reason += fmt.Sprintf(" listening on port %d", d.Ports[0])
		default:
			reason += " listening on ports " + joinInts(d.Ports)
		}
		d.Reason = oneLine(reason)
		return d, true
	}
	return Detection{}, false
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
