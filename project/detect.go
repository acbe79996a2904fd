package project

import (
	"fmt"
	"go/parser"
	"go/scanner"
	"go/token"
	"os"
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
	// when nothing did (the default flavor's fallback).
	Source string
	// Reason explains the guess in one human line, such as "Makefile
	// builds build/hello.elf".
	Reason string
	// Complete says the detection names everything a config needs to
	// build and boot the project, so that ukdev can run with it when there
	// is no ukdev.toml; an incomplete one holds placeholders to edit.
	Complete bool
	// BuildCommand is the guessed build command, empty when none was found
	// or when the flavor picks its own.
	BuildCommand string
	// Image is the guessed kernel path relative to the directory (slash
	// separated), empty when none was found or when the flavor finds it.
	// For a flavor that runs a program, it is the program the build
	// produces.
	Image string
	// Ports are the TCP ports a Go program listens on, read from the
	// listen addresses (":8080") in its sources, for the flavor to
	// forward.
	Ports []int
}

// Detect guesses how the project in dir is built and booted: the first
// registered flavor that recognises it, in their DetectOrder, decides.
// Flavors recognised by a file that names them come first, the one that
// matches any directory last; with none registered, the guess is the
// default flavor with nothing found.
//
// A ukdev.toml, which comes before all of these, is the caller's to find
// (Find). Detect reads files but never runs anything, and returns a best
// guess even when it finds nothing.
func Detect(dir string) Detection {
	for _, f := range inDetectOrder() {
		if d, ok := f.Detect(dir, false); ok {
			d.Flavor = f.Name()
			return d
		}
	}
	return Detection{Flavor: DefaultFlavor, Reason: "nothing was found"}
}

// DetectFlavor is Detect for a flavor the user chose: the guesses that
// flavor's rule makes, or placeholders, and what was not found, when it
// does not match. An empty flavor is Detect; one not in Flavors() is an
// error.
func DetectFlavor(dir, flavor string) (Detection, error) {
	if flavor == "" {
		return Detect(dir), nil
	}
	f, ok := LookupFlavor(flavor)
	if !ok {
		return Detection{}, fmt.Errorf("project: detect: %s", unsupported(flavor))
	}
	d, ok := f.Detect(dir, true)
	d.Flavor = flavor
	if !ok {
		d.Reason = OneLine("flavor " + flavor + " chosen, but " + d.Reason)
	}
	return d, nil
}

// GoProgram recognises a Go main package in dir, for a flavor that runs
// it: program is the file the build writes (relative to dir), runs ends
// the reason ("run by Linux as /init"). The build is a static go build;
// the detection is complete only when a go.mod is in dir or above it, as
// go build needs one. Flavor is left for the caller.
func GoProgram(dir, program, runs string) (Detection, bool) {
	main := mainFile(dir)
	if main == "" {
		return Detection{}, false
	}
	main = OneLine(main)
	d := Detection{Source: main, Ports: listenPorts(dir), Image: program, BuildCommand: GoBuildCommand(program)}
	reason := main + " is a Go program, " + runs
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
	d.Reason = OneLine(reason)
	return d, true
}

// FileExists reports whether path is a regular file (following
// symlinks).
func FileExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

// ReadMakefile returns the name and content of the makefile make would
// use in dir; "" and nil when there is none.
func ReadMakefile(dir string) (string, []byte) {
	for _, name := range []string{"GNUmakefile", "makefile", "Makefile"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err == nil {
			return name, data
		}
	}
	return "", nil
}

// OneLine keeps a message on one line, whatever file names it holds.
func OneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
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
		if FileExists(filepath.Join(d, "go.mod")) {
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

// GoBuildCommand builds the Go main package of the build directory into
// program, a static Linux executable: the kind a unikernel or an
// initramfs runs with no shared libraries to add.
func GoBuildCommand(program string) string {
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

// HasGoSources reports whether dir holds a Go module or Go files.
func HasGoSources(dir string) bool {
	return FileExists(filepath.Join(dir, "go.mod")) || len(goFiles(dir)) > 0
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
