// Package project finds a ukdev project, reads and validates its ukdev.toml,
// guesses the settings of a new project, and names the directories where
// ukdev keeps a project's state and runtime files. It never starts
// processes.
package project

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
)

// FileName is the name of a project's config file; its directory is the
// project root.
const FileName = "ukdev.toml"

// Defaults for keys a config leaves out.
const (
	// DefaultFlavor is the flavor of a config without one.
	DefaultFlavor = "elf"
	// DefaultQEMU is the QEMU binary looked up in PATH.
	DefaultQEMU = "qemu-system-x86_64"
	// DefaultMemoryMiB is the guest RAM in MiB.
	DefaultMemoryMiB = 128
	// DefaultCPUs is the number of vCPUs.
	DefaultCPUs = 1
	// DefaultAccel lets ukdev probe for a working KVM and fall back to TCG.
	DefaultAccel = "auto"
	// DefaultMachine lets the flavor pick the QEMU machine per image.
	DefaultMachine = "auto"
	// DefaultDebounce is the quiet time after a change before a build.
	DefaultDebounce = 100 * time.Millisecond
	// DefaultMaxWait bounds how long changes can keep delaying a build.
	DefaultMaxWait = 2 * time.Second
	// DefaultKeepBoots is the number of boot logs kept.
	DefaultKeepBoots = 50
	// DefaultMaxBytes bounds the total size of the kept boot logs.
	DefaultMaxBytes = 256 << 20
)

// Limits on values, beyond which a config is surely a mistake.
const (
	maxCPUs      = 1024
	maxMemoryMiB = 1 << 30
	maxNameLen   = 64
)

// Flavors returns the kernel flavors this version of ukdev supports, the
// values accepted for the flavor key.
func Flavors() []string { return []string{"elf", "linux", "nanos", "unikraft"} }

// Accels returns the values accepted for vm.accel.
func Accels() []string { return []string{"auto", "kvm", "tcg"} }

// Machines returns the values accepted for vm.machine.
func Machines() []string { return []string{"auto", "microvm", "pc", "q35"} }

// Config is a validated ukdev.toml with every default filled in and every
// path made absolute.
type Config struct {
	// Path is the absolute path of the config file.
	Path string
	// Root is the project root: the directory holding the config file.
	Root string
	// Name names the project (default: the base name of Root).
	Name string
	// Flavor is the kind of unikernel, one of Flavors().
	Flavor string
	Build  Build
	Watch  Watch
	Kernel Kernel
	VM     VM
	Logs   Logs
	// Nanos configures the nanos flavor; zero for other flavors.
	Nanos Nanos
	// Unikraft configures the unikraft flavor; zero for other flavors.
	Unikraft Unikraft
	// Linux configures the linux flavor; zero for other flavors.
	Linux Linux
}

// Linux holds the linux flavor's settings.
type Linux struct {
	// Kernel is the absolute path of a bzImage to boot; empty means the
	// gokrazy kernel module at KernelVersion.
	Kernel string
	// KernelVersion pins github.com/gokrazy/kernel.amd64; empty means
	// ukdev's default.
	KernelVersion string
	// Files are extra initramfs files as host→guest pairs; hosts are
	// absolute.
	Files []LinuxFile
}

// LinuxFile is one extra file of the initramfs.
type LinuxFile struct {
	Host, Guest string
}

// Unikraft holds the unikraft flavor's settings.
type Unikraft struct {
	// KernelArgs and AppArgs are joined into the kernel command line as
	// "<kernel args> -- <app args>", Unikraft's convention.
	KernelArgs, AppArgs string
	// Debug is the absolute path of the debug ELF (<image>.dbg); empty
	// means <image>.dbg when it exists.
	Debug string
}

// Nanos says where the nanos flavor finds ops' config and the Nanos kernel.
type Nanos struct {
	// Config is the absolute path of the ops config (config.json); empty
	// when the project has none.
	Config string
	// Kernel is the absolute path of a kernel.img to use instead of ops'
	// kernel cache; empty means the cache.
	Kernel string
	// Version picks a Nanos version in ops' kernel cache; empty means the
	// ops config's NanosVersion, then the cache's latest.txt.
	Version string
	// Boot is "direct" (microvm, -kernel kernel.img, the image as a virtio
	// disk: the fastest) or "disk" (q35 booting the image like ops does).
	Boot string
}

// NanosBoots returns the values accepted for nanos.boot.
func NanosBoots() []string { return []string{"direct", "disk"} }

// Build says how the project is built.
type Build struct {
	// Command is run with `sh -c` in Dir; empty means there is no build
	// step.
	Command string
	// Dir is the absolute directory the command runs in (default: Root).
	Dir string
	// Env holds variables added to the command's environment.
	Env map[string]string
	// CommandSet says build.command was given (even empty): a flavor may
	// otherwise pick its own (kraft build or make for Unikraft).
	CommandSet bool
}

// Environ returns Env as sorted KEY=VALUE entries, ready to add to a
// process environment.
func (b Build) Environ() []string {
	out := make([]string, 0, len(b.Env))
	for k, v := range b.Env {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

// Watch says which files trigger a rebuild.
type Watch struct {
	// Paths are the absolute files or directories watched (default: Root).
	Paths []string
	// Ignore holds gitignore-style patterns, in addition to the project's
	// .gitignore files.
	Ignore []string
	// Debounce is the quiet time after a change before a build starts.
	Debounce time.Duration
	// MaxWait bounds how long a stream of changes can delay a build.
	MaxWait time.Duration
}

// Kernel names the files the build produces.
type Kernel struct {
	// Image is the absolute path of the built kernel (required for elf).
	Image string
	// Initrd is the absolute path of an initial ramdisk, or empty.
	Initrd string
	// Symbols is the absolute path of the ELF file holding the debug
	// symbols (default: Image).
	Symbols string
	// Cmdline is the kernel command line.
	Cmdline string
}

// VM says how QEMU runs the kernel.
type VM struct {
	// QEMU is the QEMU binary, a name looked up in PATH or a path.
	QEMU string
	// MemoryMiB is the guest RAM in MiB, at least 1.
	MemoryMiB int
	// CPUs is the number of vCPUs, at least 1.
	CPUs int
	// Accel is one of Accels().
	Accel string
	// Machine is one of Machines().
	Machine string
	// Ports are the host→guest forwards; no two share a protocol and an
	// overlapping host address and port.
	Ports []Port
	// Args are extra QEMU arguments, appended verbatim.
	Args []string
	// Network enables user networking; true whenever Ports is not empty.
	Network bool
	// MemorySet says vm.memory was given (a flavor may otherwise pick its
	// own default, such as ops' RunConfig.Memory).
	MemorySet bool
	// CPUsSet says vm.cpus was given.
	CPUsSet bool
}

// Logs bounds the per-boot logs kept in the state directory.
type Logs struct {
	// KeepBoots is the number of boot logs kept, at least 1.
	KeepBoots int
	// MaxBytes bounds the total size of the kept logs, at least 1.
	MaxBytes int64
}

// rawConfig mirrors ukdev.toml for go-toml. Sections are structs, so that
// unknown keys are reported with their positions; leaves are `any`, so that
// a value of the wrong type is reported here in plain words rather than as a
// Go type mismatch.
type rawConfig struct {
	Name   any       `toml:"name"`
	Flavor any       `toml:"flavor"`
	Build  rawBuild  `toml:"build"`
	Watch  rawWatch  `toml:"watch"`
	Kernel rawKernel `toml:"kernel"`
	VM     rawVM     `toml:"vm"`
	Logs   rawLogs   `toml:"logs"`
	Nanos  rawNanos  `toml:"nanos"`
	Uk     rawUk     `toml:"unikraft"`
	Linux  rawLinux  `toml:"linux"`
}

type rawLinux struct {
	Kernel        any `toml:"kernel"`
	KernelVersion any `toml:"kernel_version"`
	Files         any `toml:"files"`
}

type rawUk struct {
	KernelArgs any `toml:"kernel_args"`
	AppArgs    any `toml:"app_args"`
	Debug      any `toml:"debug"`
}

type rawNanos struct {
	Config  any `toml:"config"`
	Kernel  any `toml:"kernel"`
	Version any `toml:"version"`
	Boot    any `toml:"boot"`
}

type rawBuild struct {
	Command any `toml:"command"`
	Dir     any `toml:"dir"`
	Env     any `toml:"env"`
}

type rawWatch struct {
	Paths    any `toml:"paths"`
	Ignore   any `toml:"ignore"`
	Debounce any `toml:"debounce"`
	MaxWait  any `toml:"max_wait"`
}

type rawKernel struct {
	Image   any `toml:"image"`
	Initrd  any `toml:"initrd"`
	Symbols any `toml:"symbols"`
	Cmdline any `toml:"cmdline"`
}

type rawVM struct {
	QEMU    any `toml:"qemu"`
	Memory  any `toml:"memory"`
	CPUs    any `toml:"cpus"`
	Accel   any `toml:"accel"`
	Machine any `toml:"machine"`
	Ports   any `toml:"ports"`
	Args    any `toml:"args"`
	Network any `toml:"network"`
}

type rawLogs struct {
	KeepBoots any `toml:"keep_boots"`
	MaxBytes  any `toml:"max_bytes"`
}

// Load reads and parses the config file at path. A problem with its content
// is an *Error; a file that cannot be read is wrapped as is.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("project: load: %w", err)
	}
	return Parse(path, data)
}

// Parse parses and validates the content of the config file at path, which
// is used to make paths absolute and, as given, in error messages. Every
// problem with the content is reported as one *Error, the first found: TOML
// syntax, duplicate and unknown keys, then each key's type and value in the
// order of the file's sections.
func Parse(path string, data []byte) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("project: parse %s: %w", path, err)
	}
	positions, serr := scanPositions(data)
	if serr != nil {
		return nil, &Error{File: path, Line: serr.at.line, Column: serr.at.col, Key: serr.key, Msg: serr.msg}
	}
	v := &validator{file: path, pos: positions}
	var raw rawConfig
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return nil, v.decodeError(err)
	}
	c := &Config{Path: abs, Root: filepath.Dir(abs)}
	steps := []func(*rawConfig, *Config) error{
		v.top, v.build, v.watch, v.kernel, v.vm, v.logs, v.nanos, v.unikraft, v.linux,
	}
	for _, step := range steps {
		if err := step(&raw, c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// validator turns raw values into a Config, reporting errors at the
// positions of the offending values.
type validator struct {
	file string
	pos  *positionMap
}

// errorf returns an *Error for key at the position of its value (or of its
// table when the key is missing).
func (v *validator) errorf(key, format string, args ...any) error {
	at := v.where(key)
	return &Error{File: v.file, Line: at.line, Column: at.col, Key: key, Msg: fmt.Sprintf(format, args...)}
}

// where finds the best position for key: its value, else the nearest
// enclosing table that appears in the file, else the start of the file.
func (v *validator) where(key string) pos {
	if p, ok := v.pos.values[key]; ok {
		return p
	}
	for k := key; k != ""; k = parentKey(k) {
		if p, ok := v.pos.tables[k]; ok {
			return p
		}
	}
	return pos{1, 1}
}

// parentKey drops the last part of a key path ("vm.ports[1]" → "vm.ports",
// "vm.ports" → "vm", "vm" → "").
func parentKey(k string) string {
	if strings.HasSuffix(k, "]") {
		if i := strings.LastIndexByte(k, '['); i > 0 {
			return k[:i]
		}
	}
	if i := strings.LastIndexByte(k, '.'); i >= 0 {
		return k[:i]
	}
	return ""
}

// decodeError translates go-toml's decode errors into an *Error.
func (v *validator) decodeError(err error) error {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) && len(strict.Errors) > 0 {
		first := strict.Errors[0]
		line, col := first.Position()
		key := first.Key()
		return &Error{File: v.file, Line: line, Column: col, Key: keyString(key), Msg: unknownKeyMsg(key)}
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, col := de.Position()
		key := de.Key()
		msg := strings.TrimPrefix(de.Error(), "toml: ")
		if len(key) == 1 && slices.Contains(sectionNames(), key[0]) && v.pos.notTable[key[0]] {
			msg = fmt.Sprintf("want a table ([%s] or %s.key = value)", key[0], key[0])
		}
		return &Error{File: v.file, Line: line, Column: col, Key: keyString(key), Msg: msg}
	}
	return &Error{File: v.file, Line: 1, Column: 1, Msg: err.Error()}
}

// unknownKeyMsg explains an unknown key and suggests the closest known one.
func unknownKeyMsg(key []string) string {
	section := ""
	if len(key) > 1 {
		section = key[0]
	}
	known := knownKeys(section)
	last := key[len(key)-1]
	best, bestDist := "", 3
	for _, k := range known {
		if d := editDistance(strings.ToLower(last), k); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best != "" {
		return fmt.Sprintf("unknown key (did you mean %s?)", best)
	}
	where := "the top level"
	if section != "" {
		where = "[" + section + "]"
	}
	return fmt.Sprintf("unknown key; %s accepts: %s", where, strings.Join(known, ", "))
}

// sectionNames returns the names of the config's tables.
func sectionNames() []string {
	var names []string
	t := reflect.TypeFor[rawConfig]()
	for f := range t.Fields() {
		if f.Type.Kind() == reflect.Struct {
			names = append(names, f.Tag.Get("toml"))
		}
	}
	return names
}

// knownKeys returns the keys accepted in a section ("" for the top level),
// read from rawConfig's tags so that they cannot drift from the decoder.
func knownKeys(section string) []string {
	t := reflect.TypeFor[rawConfig]()
	if section != "" {
		found := false
		for f := range t.Fields() {
			if f.Tag.Get("toml") == section && f.Type.Kind() == reflect.Struct {
				t, found = f.Type, true
				break
			}
		}
		if !found {
			return nil
		}
	}
	var keys []string
	for f := range t.Fields() {
		keys = append(keys, f.Tag.Get("toml"))
	}
	return keys
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// describe names the TOML type of a decoded value, for messages.
func describe(x any) string {
	switch x.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return "a date or time"
}

// str reads an optional string.
func (v *validator) str(key string, x any, def string) (string, error) {
	if x == nil {
		return def, nil
	}
	s, ok := x.(string)
	if !ok {
		return "", v.errorf(key, "want a string, got %s", describe(x))
	}
	return s, nil
}

// oneOf reads an optional string that must be one of allowed.
func (v *validator) oneOf(key string, x any, def string, allowed []string) (string, error) {
	s, err := v.str(key, x, def)
	if err != nil {
		return "", err
	}
	if !slices.Contains(allowed, s) {
		return "", v.errorf(key, "%q is not one of %s", s, strings.Join(allowed, ", "))
	}
	return s, nil
}

// strList reads an optional array of strings; ok is false when absent.
func (v *validator) strList(key string, x any, example string) (list []string, ok bool, err error) {
	if x == nil {
		return nil, false, nil
	}
	items, isList := x.([]any)
	if !isList {
		return nil, false, v.errorf(key, "want an array of strings such as [%s], got %s", example, describe(x))
	}
	list = make([]string, 0, len(items))
	for i, item := range items {
		s, isStr := item.(string)
		if !isStr {
			return nil, false, v.errorf(fmt.Sprintf("%s[%d]", key, i), "want a string such as %s, got %s", example, describe(item))
		}
		list = append(list, s)
	}
	return list, true, nil
}

// integer reads an optional integer in [lo, hi].
func (v *validator) integer(key string, x any, def, lo, hi int64) (int64, error) {
	if x == nil {
		return def, nil
	}
	n, ok := x.(int64)
	if !ok {
		return 0, v.errorf(key, "want an integer, got %s", describe(x))
	}
	if n < lo {
		return 0, v.errorf(key, "%d is less than %d", n, lo)
	}
	if n > hi {
		return 0, v.errorf(key, "%d is more than %d", n, hi)
	}
	return n, nil
}

// duration reads an optional Go duration string.
func (v *validator) duration(key string, x any, def time.Duration) (time.Duration, error) {
	if x == nil {
		return def, nil
	}
	s, ok := x.(string)
	if !ok {
		return 0, v.errorf(key, "want a duration string such as \"100ms\", got %s", describe(x))
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, v.errorf(key, "bad duration %q: want a number with a unit such as \"100ms\" or \"2s\"", s)
	}
	if d < 0 {
		return 0, v.errorf(key, "duration %q is negative", s)
	}
	return d, nil
}

// path reads an optional path and makes it absolute against root; an
// explicit empty string is an error unless allowEmpty.
func (v *validator) path(key string, x any, root string, allowEmpty bool) (string, error) {
	if x == nil {
		return "", nil
	}
	s, err := v.str(key, x, "")
	if err != nil {
		return "", err
	}
	return v.checkPath(key, s, root, allowEmpty)
}

// checkPath makes a configured path absolute against root.
func (v *validator) checkPath(key, s, root string, allowEmpty bool) (string, error) {
	switch {
	case s == "" && allowEmpty:
		return "", nil
	case s == "":
		return "", v.errorf(key, "empty path")
	case strings.ContainsRune(s, 0):
		return "", v.errorf(key, "path contains a NUL byte")
	case filepath.IsAbs(s):
		return filepath.Clean(s), nil
	}
	return filepath.Join(root, s), nil
}

func (v *validator) top(raw *rawConfig, c *Config) error {
	name, err := v.str("name", raw.Name, "")
	if err != nil {
		return err
	}
	if raw.Name != nil {
		if msg := checkName(name); msg != "" {
			return v.errorf("name", "%s", msg)
		}
	} else {
		// The real directory's name: a project reached through a symlink
		// is the same project, with the same state dir.
		root := c.Root
		if real, err := filepath.EvalSymlinks(root); err == nil {
			root = real
		}
		name = filepath.Base(root)
	}
	c.Name = name
	c.Flavor, err = v.str("flavor", raw.Flavor, DefaultFlavor)
	if err != nil {
		return err
	}
	if !slices.Contains(Flavors(), c.Flavor) {
		return v.errorf("flavor", "flavor %q is not supported; supported: %s", c.Flavor, strings.Join(Flavors(), ", "))
	}
	return nil
}

// checkName explains what is wrong with an explicit project name, which
// names directories and so must be a safe path component.
func checkName(name string) string {
	if name == "" || len(name) > maxNameLen {
		return fmt.Sprintf("want 1 to %d characters", maxNameLen)
	}
	if name[0] == '.' || name[0] == '-' {
		return fmt.Sprintf("%q must not start with %q", name, name[:1])
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Sprintf("%q: use only letters, digits, '.', '_' and '-'", name)
		}
	}
	return ""
}

func (v *validator) build(raw *rawConfig, c *Config) error {
	var err error
	if c.Build.Command, err = v.str("build.command", raw.Build.Command, ""); err != nil {
		return err
	}
	c.Build.CommandSet = raw.Build.Command != nil
	c.Build.Dir = c.Root
	if raw.Build.Dir != nil {
		if c.Build.Dir, err = v.path("build.dir", raw.Build.Dir, c.Root, false); err != nil {
			return err
		}
	}
	if raw.Build.Env == nil {
		return nil
	}
	table, ok := raw.Build.Env.(map[string]any)
	if !ok {
		return v.errorf("build.env", "want a table such as { CFLAGS = \"-O2\" }, got %s", describe(raw.Build.Env))
	}
	c.Build.Env = make(map[string]string, len(table))
	names := make([]string, 0, len(table))
	for name := range table {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		key := keyString([]string{"build", "env", name})
		if name == "" || strings.ContainsAny(name, "=\x00") {
			return v.errorf(key, "%q is not a valid environment variable name", name)
		}
		val, ok := table[name].(string)
		if !ok {
			return v.errorf(key, "want a string, got %s", describe(table[name]))
		}
		if strings.ContainsRune(val, 0) {
			return v.errorf(key, "value contains a NUL byte")
		}
		c.Build.Env[name] = val
	}
	return nil
}

func (v *validator) watch(raw *rawConfig, c *Config) error {
	paths, ok, err := v.strList("watch.paths", raw.Watch.Paths, `"."`)
	if err != nil {
		return err
	}
	if !ok {
		paths = []string{"."}
	}
	if len(paths) == 0 {
		return v.errorf("watch.paths", "want at least one path (the default is [\".\"])")
	}
	for i, p := range paths {
		abs, err := v.checkPath(fmt.Sprintf("watch.paths[%d]", i), p, c.Root, false)
		if err != nil {
			return err
		}
		c.Watch.Paths = append(c.Watch.Paths, abs)
	}
	ignore, _, err := v.strList("watch.ignore", raw.Watch.Ignore, `"*.o"`)
	if err != nil {
		return err
	}
	for i, p := range ignore {
		if strings.TrimSpace(p) == "" {
			return v.errorf(fmt.Sprintf("watch.ignore[%d]", i), "empty pattern")
		}
	}
	c.Watch.Ignore = ignore
	if c.Watch.Debounce, err = v.duration("watch.debounce", raw.Watch.Debounce, DefaultDebounce); err != nil {
		return err
	}
	if c.Watch.MaxWait, err = v.duration("watch.max_wait", raw.Watch.MaxWait, DefaultMaxWait); err != nil {
		return err
	}
	if c.Watch.MaxWait < c.Watch.Debounce {
		key := "watch.max_wait"
		if raw.Watch.MaxWait == nil {
			key = "watch.debounce"
		}
		return v.errorf(key, "max_wait (%v) is shorter than debounce (%v)", c.Watch.MaxWait, c.Watch.Debounce)
	}
	return nil
}

func (v *validator) kernel(raw *rawConfig, c *Config) error {
	var err error
	if c.Kernel.Image, err = v.path("kernel.image", raw.Kernel.Image, c.Root, true); err != nil {
		return err
	}
	switch {
	case c.Kernel.Image == "" && c.Flavor == "elf":
		return v.errorf("kernel.image", "required for flavor %q: the path of the built kernel, relative to the project root (kernel.image = \"build/kernel.elf\")", c.Flavor)
	// unikraft finds <name>_qemu-x86_64 in .unikraft/build or build
	// itself when kernel.image is not set.
	case c.Kernel.Image == "" && c.Flavor == "linux":
		return v.errorf("kernel.image", "required for flavor %q: the path of the static program the build produces, run as /init (kernel.image = \"app\")", c.Flavor)
	case c.Kernel.Image == "" && c.Flavor == "nanos":
		return v.errorf("kernel.image", "required for flavor %q: the path of the program the build produces, relative to the project root (kernel.image = \"app\")", c.Flavor)
	}
	// Keys a flavor would not act on are refused, never ignored silently.
	unused := map[string]map[string]string{
		"nanos": {
			"kernel.initrd":  "the nanos flavor has no initrd: put files in the ops config's Files, Dirs or MapDirs",
			"kernel.cmdline": "the nanos flavor takes the program's arguments from the ops config's Args",
			"kernel.symbols": "the program itself is the symbol file",
		},
		"linux": {
			"kernel.initrd":  "the linux flavor writes the initramfs itself: add files with linux.files",
			"kernel.symbols": "the program itself is the symbol file",
		},
	}
	for key, why := range unused[c.Flavor] {
		given := map[string]any{"kernel.initrd": raw.Kernel.Initrd, "kernel.cmdline": raw.Kernel.Cmdline, "kernel.symbols": raw.Kernel.Symbols}[key]
		if given != nil {
			return v.errorf(key, "not used with flavor %q: %s", c.Flavor, why)
		}
	}
	if c.Kernel.Initrd, err = v.path("kernel.initrd", raw.Kernel.Initrd, c.Root, true); err != nil {
		return err
	}
	if c.Kernel.Symbols, err = v.path("kernel.symbols", raw.Kernel.Symbols, c.Root, true); err != nil {
		return err
	}
	if c.Kernel.Symbols == "" {
		c.Kernel.Symbols = c.Kernel.Image
	}
	c.Kernel.Cmdline, err = v.str("kernel.cmdline", raw.Kernel.Cmdline, "")
	return err
}

func (v *validator) vm(raw *rawConfig, c *Config) error {
	var err error
	if c.VM.QEMU, err = v.str("vm.qemu", raw.VM.QEMU, DefaultQEMU); err != nil {
		return err
	}
	if c.VM.QEMU == "" {
		return v.errorf("vm.qemu", "empty QEMU binary (the default is %q)", DefaultQEMU)
	}
	if c.VM.MemoryMiB, err = v.memory(raw.VM.Memory); err != nil {
		return err
	}
	c.VM.MemorySet = raw.VM.Memory != nil
	cpus, err := v.integer("vm.cpus", raw.VM.CPUs, DefaultCPUs, 1, maxCPUs)
	if err != nil {
		return err
	}
	c.VM.CPUs = int(cpus)
	c.VM.CPUsSet = raw.VM.CPUs != nil
	if c.VM.Accel, err = v.oneOf("vm.accel", raw.VM.Accel, DefaultAccel, Accels()); err != nil {
		return err
	}
	if c.VM.Machine, err = v.oneOf("vm.machine", raw.VM.Machine, DefaultMachine, Machines()); err != nil {
		return err
	}
	if c.VM.Ports, err = v.ports(raw.VM.Ports); err != nil {
		return err
	}
	if c.VM.Args, _, err = v.strList("vm.args", raw.VM.Args, `"-d", "int"`); err != nil {
		return err
	}
	if raw.VM.Network != nil {
		b, ok := raw.VM.Network.(bool)
		if !ok {
			return v.errorf("vm.network", "want true or false, got %s", describe(raw.VM.Network))
		}
		c.VM.Network = b
	}
	c.VM.Network = c.VM.Network || len(c.VM.Ports) > 0
	return nil
}

// memory reads vm.memory: an integer or a plain-number string counts MiB,
// as QEMU's -m does; a string with a unit is a size in bytes that must be a
// whole number of MiB.
func (v *validator) memory(x any) (int, error) {
	const key = "vm.memory"
	var mib int64
	switch m := x.(type) {
	case nil:
		return DefaultMemoryMiB, nil
	case int64:
		mib = m
	case string:
		n, err := parseSize(m)
		if err != nil {
			return 0, v.errorf(key, "bad size %q: %v", m, err)
		}
		if !hasUnit(m) {
			mib = n
		} else {
			if n%(1<<20) != 0 {
				return 0, v.errorf(key, "%q is not a whole number of MiB", m)
			}
			mib = n >> 20
		}
	default:
		return 0, v.errorf(key, "want a size such as \"128M\", got %s", describe(x))
	}
	if mib < 1 {
		return 0, v.errorf(key, "%v is less than the minimum of 1 MiB", x)
	}
	if mib > maxMemoryMiB {
		return 0, v.errorf(key, "%v is more than %d MiB", x, maxMemoryMiB)
	}
	return int(mib), nil
}

// hasUnit reports whether a size string has a unit after its number.
func hasUnit(s string) bool {
	return strings.TrimRight(strings.TrimSpace(s), "0123456789") != ""
}

// ports reads vm.ports and rejects forwards that would bind the same host
// socket twice.
func (v *validator) ports(x any) ([]Port, error) {
	specs, _, err := v.strList("vm.ports", x, `"8080:80"`)
	if err != nil {
		return nil, err
	}
	var ports []Port
	for i, spec := range specs {
		key := fmt.Sprintf("vm.ports[%d]", i)
		p, err := parsePort(spec)
		if err != nil {
			return nil, v.errorf(key, "bad port forward %q: %v", spec, err)
		}
		for j, q := range ports {
			if conflicts(p, q) {
				return nil, v.errorf(key, "host port %d/%s is already forwarded by vm.ports[%d] (%q)", p.HostPort, p.Proto, j, q.Spec)
			}
		}
		ports = append(ports, p)
	}
	return ports, nil
}

// conflicts reports whether two forwards would bind the same host socket:
// same protocol and port, and the same address or either one the wildcard.
func conflicts(p, q Port) bool {
	if p.Proto != q.Proto || p.HostPort != q.HostPort {
		return false
	}
	return p.HostAddr == q.HostAddr || isUnspecified(p.HostAddr) || isUnspecified(q.HostAddr)
}

func isUnspecified(addr string) bool { return addr == "0.0.0.0" || addr == "::" }

func (v *validator) logs(raw *rawConfig, c *Config) error {
	keep, err := v.integer("logs.keep_boots", raw.Logs.KeepBoots, DefaultKeepBoots, 1, math.MaxInt32)
	if err != nil {
		return err
	}
	c.Logs.KeepBoots = int(keep)
	switch m := raw.Logs.MaxBytes.(type) {
	case nil:
		c.Logs.MaxBytes = DefaultMaxBytes
	case int64:
		c.Logs.MaxBytes = m
	case string:
		n, err := parseSize(m)
		if err != nil {
			return v.errorf("logs.max_bytes", "bad size %q: %v", m, err)
		}
		c.Logs.MaxBytes = n
	default:
		return v.errorf("logs.max_bytes", "want a size such as \"256M\", got %s", describe(raw.Logs.MaxBytes))
	}
	if c.Logs.MaxBytes < 1 {
		return v.errorf("logs.max_bytes", "%v is less than 1 byte", raw.Logs.MaxBytes)
	}
	return nil
}

func (v *validator) nanos(raw *rawConfig, c *Config) error {
	r := raw.Nanos
	if c.Flavor != "nanos" {
		for key, x := range map[string]any{"nanos.config": r.Config, "nanos.kernel": r.Kernel, "nanos.version": r.Version, "nanos.boot": r.Boot} {
			if x != nil {
				return v.errorf(key, "only used with flavor = \"nanos\" (this project's flavor is %q)", c.Flavor)
			}
		}
		return nil
	}
	var err error
	if r.Config == nil {
		// ops' own default, used only when the project has one.
		if def := filepath.Join(c.Root, "config.json"); fileExists(def) {
			c.Nanos.Config = def
		}
	} else if c.Nanos.Config, err = v.path("nanos.config", r.Config, c.Root, false); err != nil {
		return err
	}
	if c.Nanos.Kernel, err = v.path("nanos.kernel", r.Kernel, c.Root, true); err != nil {
		return err
	}
	if c.Nanos.Version, err = v.str("nanos.version", r.Version, ""); err != nil {
		return err
	}
	c.Nanos.Boot, err = v.oneOf("nanos.boot", r.Boot, "direct", NanosBoots())
	return err
}

func fileExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

func (v *validator) unikraft(raw *rawConfig, c *Config) error {
	r := raw.Uk
	if c.Flavor != "unikraft" {
		for key, x := range map[string]any{"unikraft.kernel_args": r.KernelArgs, "unikraft.app_args": r.AppArgs, "unikraft.debug": r.Debug} {
			if x != nil {
				return v.errorf(key, "only used with flavor = \"unikraft\" (this project's flavor is %q)", c.Flavor)
			}
		}
		return nil
	}
	var err error
	if c.Unikraft.KernelArgs, err = v.str("unikraft.kernel_args", r.KernelArgs, ""); err != nil {
		return err
	}
	if c.Unikraft.AppArgs, err = v.str("unikraft.app_args", r.AppArgs, ""); err != nil {
		return err
	}
	c.Unikraft.Debug, err = v.path("unikraft.debug", r.Debug, c.Root, true)
	return err
}

func (v *validator) linux(raw *rawConfig, c *Config) error {
	r := raw.Linux
	if c.Flavor != "linux" {
		for key, x := range map[string]any{"linux.kernel": r.Kernel, "linux.kernel_version": r.KernelVersion, "linux.files": r.Files} {
			if x != nil {
				return v.errorf(key, "only used with flavor = \"linux\" (this project's flavor is %q)", c.Flavor)
			}
		}
		return nil
	}
	var err error
	if c.Linux.Kernel, err = v.path("linux.kernel", r.Kernel, c.Root, true); err != nil {
		return err
	}
	if c.Linux.KernelVersion, err = v.str("linux.kernel_version", r.KernelVersion, ""); err != nil {
		return err
	}
	files, _, err := v.strList("linux.files", r.Files, `"etc/motd:/etc/motd"`)
	if err != nil {
		return err
	}
	for i, f := range files {
		key := fmt.Sprintf("linux.files[%d]", i)
		host, guest, ok := strings.Cut(f, ":")
		if !ok || host == "" || !strings.HasPrefix(guest, "/") {
			return v.errorf(key, "bad initramfs file %q: want \"host path:/guest/path\"", f)
		}
		if host, err = v.checkPath(key, host, c.Root, false); err != nil {
			return err
		}
		c.Linux.Files = append(c.Linux.Files, LinuxFile{Host: host, Guest: guest})
	}
	return nil
}
