// Package project finds a ukdev project, reads and validates its ukdev.toml,
// guesses the settings of a new project, and names the directories where
// ukdev keeps a project's state and runtime files. It never starts
// processes.
package project

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"math"
	"net/url"
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
	// DefaultSettle is the quiet time after a change that looks like one
	// save before a build (capped at the debounce).
	DefaultSettle = 8 * time.Millisecond
	// DefaultKeepBoots is the number of boot logs kept.
	DefaultKeepBoots = 50
	// DefaultMaxBytes bounds the total size of the kept boot logs.
	DefaultMaxBytes = 256 << 20
	// DefaultMetricsInterval is how often the app's metrics are scraped
	// and its health is checked.
	DefaultMetricsInterval = time.Second
)

// Limits on values, beyond which a config is surely a mistake.
const (
	maxCPUs      = 1024
	maxMemoryMiB = 1 << 30
	maxNameLen   = 64
	// minMetricsInterval keeps a scrape from hammering the guest.
	minMetricsInterval = 100 * time.Millisecond
)

// Accels returns the values accepted for vm.accel.
func Accels() []string { return []string{"auto", "kvm", "tcg"} }

// Machines returns the values accepted for vm.machine.
func Machines() []string { return []string{"auto", "microvm", "pc", "q35"} }

// The values of vm.backend.
const (
	// BackendQEMU runs each boot as a QEMU process on this machine.
	BackendQEMU = "qemu"
	// BackendLibvirt runs each boot as a libvirt domain on the host at
	// vm.libvirt_uri.
	BackendLibvirt = "libvirt"
)

// Backends returns the values accepted for vm.backend.
func Backends() []string { return []string{BackendQEMU, BackendLibvirt} }

// DefaultLibvirtPool is the storage pool images are uploaded to on a
// libvirt host; ukdev creates it when the host has none of that name.
const DefaultLibvirtPool = "ukdev"

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
	// Metrics says where the app publishes its metrics.
	Metrics Metrics
	// Health says where the app answers whether it is ready.
	Health Health
	// Settings are the flavor's own, read from its section by its
	// SettingsDecoder (nil for a flavor without one). The flavor's package
	// has the accessor that knows their type.
	Settings any
	// Includes are the absolute paths of the other files the flavor's
	// settings were read from (ops' config.json): a change to one is a
	// change of the config.
	Includes []string
	// Deploys are the [deploy.<name>] sections, by name.
	Deploys map[string]Deploy
	// DefaultDeploy names the deploy used when none is named:
	// deploy.default, or the only one; empty when there are several and
	// no default, or none.
	DefaultDeploy string
}

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
	// Settle is the quiet time after a change that looks like one save
	// (a few files, not right after the previous change) before a build
	// starts; it is never longer than Debounce.
	Settle time.Duration
}

// Kernel names the files the build produces.
type Kernel struct {
	// Image is the absolute path of the built kernel; a flavor that finds
	// it itself may leave it empty (KernelKeys).
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
	// Backend is one of Backends(): BackendLibvirt when vm.backend says
	// so, or when it is absent and a vm.libvirt_* key is given.
	Backend string
	// LibvirtURI is the libvirt connection URI as written
	// ("qemu+ssh://user@host/system"); empty means LIBVIRT_DEFAULT_URI,
	// else qemu:///system, resolved where it is used.
	LibvirtURI string
	// LibvirtPool is the storage pool on the libvirt host that images
	// are uploaded to.
	LibvirtPool string
	// LibvirtNetwork, when not empty, puts the guest on that libvirt
	// network of the host instead of user networking (so Ports is empty).
	LibvirtNetwork string
}

// Logs bounds the per-boot logs kept in the state directory.
type Logs struct {
	// KeepBoots is the number of boot logs kept, at least 1.
	KeepBoots int
	// MaxBytes bounds the total size of the kept logs, at least 1.
	MaxBytes int64
}

// Metrics says which of the application's own metrics ukdev scrapes and
// graphs.
type Metrics struct {
	// URL is where the guest publishes Prometheus text or Go's expvar
	// JSON, as written in the config (ParseGuestURL checked it); empty
	// means no app metrics.
	URL string
	// Series names the series to graph; empty: a few the app has.
	Series []string
	// Interval is the time between two scrapes, and between two health
	// checks.
	Interval time.Duration
}

// Health says where the application tells whether it is ready.
type Health struct {
	// URL answers 2xx when the app is ready, as written in the config
	// (ParseGuestURL checked it); empty means no health checks.
	URL string
}

// rawConfig mirrors ukdev.toml for go-toml. Sections are structs, so that
// unknown keys are reported with their positions; leaves are `any`, so that
// a value of the wrong type is reported here in plain words rather than as a
// Go type mismatch.
type rawConfig struct {
	Name    any        `toml:"name"`
	Flavor  any        `toml:"flavor"`
	Build   rawBuild   `toml:"build"`
	Watch   rawWatch   `toml:"watch"`
	Kernel  rawKernel  `toml:"kernel"`
	VM      rawVM      `toml:"vm"`
	Logs    rawLogs    `toml:"logs"`
	Metrics rawMetrics `toml:"metrics"`
	Health  rawHealth  `toml:"health"`
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
	Settle   any `toml:"settle"`
}

type rawKernel struct {
	Image   any `toml:"image"`
	Initrd  any `toml:"initrd"`
	Symbols any `toml:"symbols"`
	Cmdline any `toml:"cmdline"`
}

type rawVM struct {
	QEMU           any `toml:"qemu"`
	Memory         any `toml:"memory"`
	CPUs           any `toml:"cpus"`
	Accel          any `toml:"accel"`
	Machine        any `toml:"machine"`
	Ports          any `toml:"ports"`
	Args           any `toml:"args"`
	Network        any `toml:"network"`
	Backend        any `toml:"backend"`
	LibvirtURI     any `toml:"libvirt_uri"`
	LibvirtPool    any `toml:"libvirt_pool"`
	LibvirtNetwork any `toml:"libvirt_network"`
}

type rawLogs struct {
	KeepBoots any `toml:"keep_boots"`
	MaxBytes  any `toml:"max_bytes"`
}

type rawMetrics struct {
	URL      any `toml:"url"`
	Series   any `toml:"series"`
	Interval any `toml:"interval"`
}

type rawHealth struct {
	URL any `toml:"url"`
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
// problem with the content is reported as one *Error, always the same one
// for the same content: the first in the file. A file that is not TOML, or
// that go-toml cannot read into sections (a key defined twice, a section
// given a value other than a table), reports the first such place, since
// nothing after it can be read. Otherwise every key is checked, and the
// error that comes first in the file wins, whether it is an unknown key, a
// value of the wrong type or an invalid value, or a rule between keys (a
// key the flavor refuses, max_wait below debounce, two forwards of one
// host port), which is reported at the key where it breaks. A required key
// that is missing has no place in the file, so it comes after all others.
func Parse(path string, data []byte) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("project: parse %s: %w", path, err)
	}
	positions, serr := scanPositions(data)
	if serr != nil {
		return nil, &Error{File: path, Line: serr.at.line, Column: serr.at.col, Key: serr.key, Msg: serr.msg}
	}
	sections := flavorSections()
	deploys := scanDeploys(data)
	doc := newRawDoc(sections, deploys)
	v := &validator{file: path, pos: positions, doc: doc.Type().Elem()}
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(doc.Interface()); err != nil {
		var strict *toml.StrictMissingError
		if !errors.As(err, &strict) {
			return nil, v.decodeError(err)
		}
		// go-toml reports unknown keys once it has decoded everything
		// else: they compete in file order with the other problems.
		v.unknownKeys(strict)
	}
	var raw rawConfig
	rv := reflect.ValueOf(&raw).Elem()
	for i := range rv.NumField() {
		rv.Field(i).Set(doc.Elem().Field(i))
	}
	c := &Config{Path: abs, Root: filepath.Dir(abs)}
	v.top(&raw, c)
	v.build(raw.Build, c)
	v.watch(raw.Watch, c)
	v.kernel(raw.Kernel, c)
	v.vm(raw.VM, c)
	v.logs(raw.Logs, c)
	v.metrics(raw.Metrics, c)
	v.health(raw.Health, c)
	for i, s := range sections {
		v.section(s, doc.Elem().Field(rv.NumField()+i).Addr().Interface(), c)
	}
	v.deploys(deploys, doc.Elem().Field(rv.NumField()+len(sections)), c)
	if err := v.first(); err != nil {
		return nil, err
	}
	return c, nil
}

// flavorSection is a registered flavor's own section of ukdev.toml.
type flavorSection struct {
	name string
	dec  SettingsDecoder
}

// flavorSections returns the sections of the registered flavors that
// have one, sorted by name.
func flavorSections() []flavorSection {
	var list []flavorSection
	for _, f := range registered() {
		if dec, ok := f.(SettingsDecoder); ok {
			list = append(list, flavorSection{name: f.Name(), dec: dec})
		}
	}
	return list
}

// newRawDoc returns a pointer to a new value that the whole of ukdev.toml
// decodes into: rawConfig's fields, then one per flavor section, of its
// NewSection type, then the [deploy] table (deployType), so that go-toml
// checks the keys of every section alike.
func newRawDoc(sections []flavorSection, deploys []deploySection) reflect.Value {
	fields := slices.Collect(reflect.TypeFor[rawConfig]().Fields())
	for i, s := range sections {
		fields = append(fields, reflect.StructField{
			Name: fmt.Sprintf("Flavor%d", i),
			Type: reflect.TypeOf(s.dec.NewSection()).Elem(),
			Tag:  reflect.StructTag(`toml:"` + s.name + `"`),
		})
	}
	fields = append(fields, reflect.StructField{Name: "Deploy", Type: deployType(deploys), Tag: `toml:"deploy"`})
	return reflect.New(reflect.StructOf(fields))
}

// validator turns raw values into a Config, collecting an error for every
// problem at the position of the offending value; Parse reports the first.
type validator struct {
	file string
	pos  *positionMap
	// doc is the type the document decodes into (newRawDoc), which names
	// the sections and their keys.
	doc  reflect.Type
	errs []problem
}

// problem is one error found in a config, with what orders it.
type problem struct {
	err *Error
	// absent says the key is not in the file: the error points at where
	// it would go, and comes after the errors about what the file says.
	absent bool
}

// report records an error for key at the position of its value (or of its
// table when the key is missing).
func (v *validator) report(key, format string, args ...any) {
	at, absent := v.where(key)
	v.errs = append(v.errs, problem{
		err:    &Error{File: v.file, Line: at.line, Column: at.col, Key: key, Msg: fmt.Sprintf(format, args...)},
		absent: absent,
	})
}

// first returns the error that comes first in the file, or nil. Errors at
// the same place keep the order they were found in, which is fixed.
func (v *validator) first() error {
	if len(v.errs) == 0 {
		return nil
	}
	p := slices.MinFunc(v.errs, func(a, b problem) int {
		if a.absent != b.absent {
			if a.absent {
				return 1
			}
			return -1
		}
		if a.err.Line != b.err.Line {
			return cmp.Compare(a.err.Line, b.err.Line)
		}
		return cmp.Compare(a.err.Column, b.err.Column)
	})
	return p.err
}

// where finds the best position for key: its value, else the nearest
// enclosing table that appears in the file, else the start of the file.
// absent says the key itself is not in the file.
func (v *validator) where(key string) (at pos, absent bool) {
	if p, ok := v.pos.values[key]; ok {
		return p, false
	}
	for k := key; k != ""; k = parentKey(k) {
		if p, ok := v.pos.tables[k]; ok {
			return p, true
		}
	}
	return pos{1, 1}, true
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

// unknownKeys records go-toml's unknown keys, at the positions it gives.
func (v *validator) unknownKeys(strict *toml.StrictMissingError) {
	for i := range strict.Errors {
		e := &strict.Errors[i]
		line, col := e.Position()
		key := e.Key()
		v.errs = append(v.errs, problem{err: &Error{File: v.file, Line: line, Column: col, Key: keyString(key), Msg: v.unknownKeyMsg(key)}})
	}
}

// decodeError translates an error that stopped go-toml into an *Error.
func (v *validator) decodeError(err error) error {
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, col := de.Position()
		key := de.Key()
		msg := strings.TrimPrefix(de.Error(), "toml: ")
		if len(key) == 1 && slices.Contains(v.sectionNames(), key[0]) && v.pos.notTable[key[0]] {
			msg = fmt.Sprintf("want a table ([%s] or %s.key = value)", key[0], key[0])
		}
		return &Error{File: v.file, Line: line, Column: col, Key: keyString(key), Msg: msg}
	}
	return &Error{File: v.file, Line: 1, Column: 1, Msg: err.Error()}
}

// unknownKeyMsg explains an unknown key and suggests the closest known one.
func (v *validator) unknownKeyMsg(key []string) string {
	if len(key) == 2 && key[0] == "deploy" {
		// Every entry of [deploy] with a usable name is decoded.
		return fmt.Sprintf("bad deploy name: use 1 to %d letters, digits, '_' and '-'", maxNameLen)
	}
	section := key[:len(key)-1]
	known := v.knownKeys(section)
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
	if len(section) > 0 {
		where = "[" + keyString(section) + "]"
	}
	return fmt.Sprintf("unknown key; %s accepts: %s", where, strings.Join(known, ", "))
}

// sectionNames returns the names of the config's tables.
func (v *validator) sectionNames() []string {
	var names []string
	t := v.doc
	for f := range t.Fields() {
		if f.Type.Kind() == reflect.Struct {
			names = append(names, f.Tag.Get("toml"))
		}
	}
	return names
}

// knownKeys returns the keys accepted in a section, given by its path (nil
// for the top level), read from the decoded type's tags so that they
// cannot drift from the decoder.
func (v *validator) knownKeys(section []string) []string {
	t := v.doc
	for _, name := range section {
		found := false
		for f := range t.Fields() {
			if f.Tag.Get("toml") == name && f.Type.Kind() == reflect.Struct {
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

// The readers below return a value and ok; when ok is false the problem is
// already reported and the value must not be used.

// str reads an optional string.
func (v *validator) str(key string, x any, def string) (string, bool) {
	if x == nil {
		return def, true
	}
	s, ok := x.(string)
	if !ok {
		v.report(key, "want a string, got %s", describe(x))
	}
	return s, ok
}

// oneOf reads an optional string that must be one of allowed.
func (v *validator) oneOf(key string, x any, def string, allowed []string) (string, bool) {
	s, ok := v.str(key, x, def)
	if ok && !slices.Contains(allowed, s) {
		v.report(key, "%q is not one of %s", s, strings.Join(allowed, ", "))
		return "", false
	}
	return s, ok
}

// strItem is a string element of an array, with its key ("vm.ports[1]").
type strItem struct{ key, s string }

// strItems reads an optional array of strings (nil when absent), reporting
// every element that is not a string and returning the others.
func (v *validator) strItems(key string, x any, example string) (items []strItem, ok bool) {
	if x == nil {
		return nil, true
	}
	list, isList := x.([]any)
	if !isList {
		v.report(key, "want an array of strings such as [%s], got %s", example, describe(x))
		return nil, false
	}
	ok = true
	for i, elem := range list {
		k := fmt.Sprintf("%s[%d]", key, i)
		if s, isStr := elem.(string); isStr {
			items = append(items, strItem{k, s})
		} else {
			v.report(k, "want a string such as %s, got %s", example, describe(elem))
			ok = false
		}
	}
	return items, ok
}

// strList reads an optional array of strings (nil when absent).
func (v *validator) strList(key string, x any, example string) ([]string, bool) {
	items, ok := v.strItems(key, x, example)
	if !ok || x == nil {
		return nil, ok
	}
	list := make([]string, 0, len(items))
	for _, it := range items {
		list = append(list, it.s)
	}
	return list, true
}

// integer reads an optional integer in [lo, hi].
func (v *validator) integer(key string, x any, def, lo, hi int64) (int64, bool) {
	if x == nil {
		return def, true
	}
	n, ok := x.(int64)
	switch {
	case !ok:
		v.report(key, "want an integer, got %s", describe(x))
	case n < lo:
		v.report(key, "%d is less than %d", n, lo)
	case n > hi:
		v.report(key, "%d is more than %d", n, hi)
	default:
		return n, true
	}
	return 0, false
}

// duration reads an optional Go duration string.
func (v *validator) duration(key string, x any, def time.Duration) (time.Duration, bool) {
	if x == nil {
		return def, true
	}
	s, ok := x.(string)
	if !ok {
		v.report(key, "want a duration string such as \"100ms\", got %s", describe(x))
		return 0, false
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		v.report(key, "bad duration %q: want a number with a unit such as \"100ms\" or \"2s\"", s)
	case d < 0:
		v.report(key, "duration %q is negative", s)
	default:
		return d, true
	}
	return 0, false
}

// path reads an optional path and makes it absolute against root; an
// explicit empty string is an error unless allowEmpty.
func (v *validator) path(key string, x any, root string, allowEmpty bool) (string, bool) {
	if x == nil {
		return "", true
	}
	s, ok := v.str(key, x, "")
	if !ok {
		return "", false
	}
	return v.checkPath(key, s, root, allowEmpty)
}

// checkPath makes a configured path absolute against root.
func (v *validator) checkPath(key, s, root string, allowEmpty bool) (string, bool) {
	switch {
	case s == "" && allowEmpty:
		return "", true
	case s == "":
		v.report(key, "empty path")
		return "", false
	case strings.ContainsRune(s, 0):
		v.report(key, "path contains a NUL byte")
		return "", false
	case filepath.IsAbs(s):
		return filepath.Clean(s), true
	}
	return filepath.Join(root, s), true
}

// top reads the top-level keys. An unsupported flavor is reported and
// leaves c.Flavor empty, so that the rules of a flavor are not checked.
func (v *validator) top(raw *rawConfig, c *Config) {
	if raw.Name == nil {
		// The real directory's name: a project reached through a symlink
		// is the same project, with the same state dir.
		root := c.Root
		if real, err := filepath.EvalSymlinks(root); err == nil {
			root = real
		}
		c.Name = filepath.Base(root)
	} else if name, ok := v.str("name", raw.Name, ""); ok {
		if msg := checkName(name); msg != "" {
			v.report("name", "%s", msg)
		}
		c.Name = name
	}
	flavor, ok := v.str("flavor", raw.Flavor, DefaultFlavor)
	if !ok {
		return
	}
	if _, ok := LookupFlavor(flavor); !ok {
		v.report("flavor", "%s", unsupported(flavor))
		return
	}
	c.Flavor = flavor
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

func (v *validator) build(r rawBuild, c *Config) {
	c.Build.Command, _ = v.str("build.command", r.Command, "")
	c.Build.CommandSet = r.Command != nil
	c.Build.Dir = c.Root
	if r.Dir != nil {
		c.Build.Dir, _ = v.path("build.dir", r.Dir, c.Root, false)
	}
	if r.Env == nil {
		return
	}
	table, ok := r.Env.(map[string]any)
	if !ok {
		v.report("build.env", "want a table such as { CFLAGS = \"-O2\" }, got %s", describe(r.Env))
		return
	}
	c.Build.Env = make(map[string]string, len(table))
	for name, x := range table {
		key := keyString([]string{"build", "env", name})
		val, isStr := x.(string)
		switch {
		case name == "" || strings.ContainsAny(name, "=\x00"):
			v.report(key, "%q is not a valid environment variable name", name)
		case !isStr:
			v.report(key, "want a string, got %s", describe(x))
		case strings.ContainsRune(val, 0):
			v.report(key, "value contains a NUL byte")
		default:
			c.Build.Env[name] = val
		}
	}
}

func (v *validator) watch(r rawWatch, c *Config) {
	switch paths, ok := v.strItems("watch.paths", r.Paths, `"."`); {
	case !ok:
	case r.Paths == nil:
		c.Watch.Paths = []string{c.Root}
	case len(paths) == 0:
		v.report("watch.paths", "want at least one path (the default is [\".\"])")
	default:
		for _, p := range paths {
			if abs, ok := v.checkPath(p.key, p.s, c.Root, false); ok {
				c.Watch.Paths = append(c.Watch.Paths, abs)
			}
		}
	}
	ignore, _ := v.strItems("watch.ignore", r.Ignore, `"*.o"`)
	for _, p := range ignore {
		if strings.TrimSpace(p.s) == "" {
			v.report(p.key, "empty pattern")
		}
		c.Watch.Ignore = append(c.Watch.Ignore, p.s)
	}
	var debounceOK, maxWaitOK bool
	c.Watch.Debounce, debounceOK = v.duration("watch.debounce", r.Debounce, DefaultDebounce)
	c.Watch.MaxWait, maxWaitOK = v.duration("watch.max_wait", r.MaxWait, DefaultMaxWait)
	if debounceOK && maxWaitOK && c.Watch.MaxWait < c.Watch.Debounce {
		key := "watch.max_wait"
		if r.MaxWait == nil {
			key = "watch.debounce"
		}
		v.report(key, "max_wait (%v) is shorter than debounce (%v)", c.Watch.MaxWait, c.Watch.Debounce)
	}
	// "0s" means the default, as for debounce.
	debounce := c.Watch.Debounce
	if debounce == 0 {
		debounce = DefaultDebounce
	}
	var settleOK bool
	c.Watch.Settle, settleOK = v.duration("watch.settle", r.Settle, min(DefaultSettle, debounce))
	if c.Watch.Settle == 0 {
		c.Watch.Settle = min(DefaultSettle, debounce)
	}
	if debounceOK && settleOK && c.Watch.Settle > debounce {
		v.report("watch.settle", "settle (%v) is longer than debounce (%v)", c.Watch.Settle, debounce)
	}
}

func (v *validator) kernel(r rawKernel, c *Config) {
	var rules KernelKeys
	if f, ok := LookupFlavor(c.Flavor); ok {
		rules = f.KernelKeys()
	}
	image, ok := v.path("kernel.image", r.Image, c.Root, true)
	c.Kernel.Image = image
	if ok && image == "" && rules.Image != "" {
		v.report("kernel.image", "required for flavor %q: %s", c.Flavor, rules.Image)
	}
	// Keys a flavor would not act on are refused, never ignored silently.
	given := map[string]any{"initrd": r.Initrd, "cmdline": r.Cmdline, "symbols": r.Symbols}
	for _, u := range rules.Unused {
		if given[u.Key] != nil {
			v.report("kernel."+u.Key, "not used with flavor %q: %s", c.Flavor, u.Why)
		}
	}
	c.Kernel.Initrd, _ = v.path("kernel.initrd", r.Initrd, c.Root, true)
	c.Kernel.Symbols, _ = v.path("kernel.symbols", r.Symbols, c.Root, true)
	if c.Kernel.Symbols == "" {
		c.Kernel.Symbols = c.Kernel.Image
	}
	c.Kernel.Cmdline, _ = v.str("kernel.cmdline", r.Cmdline, "")
}

func (v *validator) vm(r rawVM, c *Config) {
	if qemu, ok := v.str("vm.qemu", r.QEMU, DefaultQEMU); ok && qemu == "" {
		v.report("vm.qemu", "empty QEMU binary (the default is %q)", DefaultQEMU)
	} else {
		c.VM.QEMU = qemu
	}
	c.VM.MemoryMiB = v.memory(r.Memory)
	c.VM.MemorySet = r.Memory != nil
	cpus, _ := v.integer("vm.cpus", r.CPUs, DefaultCPUs, 1, maxCPUs)
	c.VM.CPUs = int(cpus)
	c.VM.CPUsSet = r.CPUs != nil
	c.VM.Accel, _ = v.oneOf("vm.accel", r.Accel, DefaultAccel, Accels())
	c.VM.Machine, _ = v.oneOf("vm.machine", r.Machine, DefaultMachine, Machines())
	c.VM.Ports = v.ports(r.Ports)
	c.VM.Args, _ = v.strList("vm.args", r.Args, `"-d", "int"`)
	if r.Network != nil {
		b, ok := r.Network.(bool)
		if !ok {
			v.report("vm.network", "want true or false, got %s", describe(r.Network))
		}
		c.VM.Network = b
	}
	c.VM.Network = c.VM.Network || len(c.VM.Ports) > 0
	v.backend(r, c)
}

// backend reads vm.backend and the vm.libvirt_* keys, which only a
// libvirt backend acts on.
func (v *validator) backend(r rawVM, c *Config) {
	libvirtKeys := []struct {
		key string
		x   any
	}{{"vm.libvirt_uri", r.LibvirtURI}, {"vm.libvirt_pool", r.LibvirtPool}, {"vm.libvirt_network", r.LibvirtNetwork}}
	def := BackendQEMU
	for _, k := range libvirtKeys {
		if k.x != nil {
			def = BackendLibvirt
		}
	}
	backend, ok := v.oneOf("vm.backend", r.Backend, def, Backends())
	if !ok {
		return
	}
	c.VM.Backend = backend
	if backend != BackendLibvirt {
		for _, k := range libvirtKeys {
			if k.x != nil {
				v.report(k.key, "not used with vm.backend %q (set vm.backend = %q, or leave it out)", backend, BackendLibvirt)
			}
		}
		return
	}
	if uri, ok := v.str("vm.libvirt_uri", r.LibvirtURI, ""); ok && uri != "" {
		if err := CheckLibvirtURI(uri); err != nil {
			v.report("vm.libvirt_uri", "%v", err)
		} else {
			c.VM.LibvirtURI = uri
		}
	}
	if pool, ok := v.str("vm.libvirt_pool", r.LibvirtPool, DefaultLibvirtPool); ok {
		if pool == "" || strings.ContainsAny(pool, "/ \t\n") {
			v.report("vm.libvirt_pool", "%q is not a storage pool name", pool)
		} else {
			c.VM.LibvirtPool = pool
		}
	}
	if network, ok := v.str("vm.libvirt_network", r.LibvirtNetwork, ""); ok && network != "" {
		c.VM.LibvirtNetwork = network
		if len(c.VM.Ports) > 0 {
			v.report("vm.libvirt_network", "the guest is on libvirt network %q, so vm.ports cannot forward to it: reach it at its address on that network, or drop vm.libvirt_network to forward ports", network)
		}
	}
}

// CheckLibvirtURI checks that uri is a libvirt URI of the QEMU driver:
// qemu:///system, qemu:///session, or qemu+TRANSPORT://[user@]host[:port]/system.
func CheckLibvirtURI(uri string) error {
	u, err := url.Parse(uri)
	if err != nil {
		return fmt.Errorf("bad libvirt URI %q: %v", uri, err)
	}
	driver, transport, _ := strings.Cut(u.Scheme, "+")
	switch {
	case driver != "qemu":
		return fmt.Errorf("libvirt URI %q is not of the QEMU driver (want qemu:///system or qemu+ssh://host/system)", uri)
	case transport != "" && transport != "unix" && u.Host == "":
		return fmt.Errorf("libvirt URI %q names no host (want qemu+%s://host/system)", uri, transport)
	case u.Path != "/system" && u.Path != "/session":
		return fmt.Errorf("libvirt URI %q: want the path /system or /session, got %q", uri, u.Path)
	}
	return nil
}

// memory reads vm.memory: an integer or a plain-number string counts MiB,
// as QEMU's -m does; a string with a unit is a size in bytes that must be a
// whole number of MiB.
func (v *validator) memory(x any) int {
	const key = "vm.memory"
	var mib int64
	switch m := x.(type) {
	case nil:
		return DefaultMemoryMiB
	case int64:
		mib = m
	case string:
		n, err := parseSize(m)
		switch {
		case err != nil:
			v.report(key, "bad size %q: %v", m, err)
			return 0
		case !hasUnit(m):
			mib = n
		case n%(1<<20) != 0:
			v.report(key, "%q is not a whole number of MiB", m)
			return 0
		default:
			mib = n >> 20
		}
	default:
		v.report(key, "want a size such as \"128M\", got %s", describe(x))
		return 0
	}
	switch {
	case mib < 1:
		v.report(key, "%v is less than the minimum of 1 MiB", x)
	case mib > maxMemoryMiB:
		v.report(key, "%v is more than %d MiB", x, maxMemoryMiB)
	default:
		return int(mib)
	}
	return 0
}

// hasUnit reports whether a size string has a unit after its number.
func hasUnit(s string) bool {
	return strings.TrimRight(strings.TrimSpace(s), "0123456789") != ""
}

// ports reads vm.ports and rejects forwards that would bind the same host

// ports reads vm.ports and rejects forwards that would bind the same host
// socket twice.
func (v *validator) ports(x any) []Port {
	specs, _ := v.strItems("vm.ports", x, `"8080:80"`)
	var ports []Port
	var keys []string // keys[k] is the key of ports[k]
	for _, spec := range specs {
		p, err := parsePort(spec.s)
		if err != nil {
			v.report(spec.key, "bad port forward %q: %v", spec.s, err)
			continue
		}
		if k := slices.IndexFunc(ports, func(q Port) bool { return conflicts(p, q) }); k >= 0 {
			v.report(spec.key, "host port %d/%s is already forwarded by %s (%q)", p.HostPort, p.Proto, keys[k], ports[k].Spec)
			continue
		}
		ports = append(ports, p)
		keys = append(keys, spec.key)
	}
	return ports
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

func (v *validator) logs(r rawLogs, c *Config) {
	keep, _ := v.integer("logs.keep_boots", r.KeepBoots, DefaultKeepBoots, 1, math.MaxInt32)
	c.Logs.KeepBoots = int(keep)
	const key = "logs.max_bytes"
	switch m := r.MaxBytes.(type) {
	case nil:
		c.Logs.MaxBytes = DefaultMaxBytes
	case int64:
		c.Logs.MaxBytes = m
	case string:
		n, err := parseSize(m)
		if err != nil {
			v.report(key, "bad size %q: %v", m, err)
			return
		}
		c.Logs.MaxBytes = n
	default:
		v.report(key, "want a size such as \"256M\", got %s", describe(r.MaxBytes))
		return
	}
	if c.Logs.MaxBytes < 1 {
		v.report(key, "%v is less than 1 byte", r.MaxBytes)
	}
}

func (v *validator) metrics(r rawMetrics, c *Config) {
	c.Metrics.URL = v.guestURL("metrics.url", r.URL)
	series, ok := v.strItems("metrics.series", r.Series, `"go_goroutines"`)
	for _, s := range series {
		if strings.TrimSpace(s.s) == "" {
			v.report(s.key, "empty series name")
			ok = false
		}
		c.Metrics.Series = append(c.Metrics.Series, s.s)
	}
	if ok && len(series) > 0 && r.URL == nil {
		v.report("metrics.series", "no metrics.url to scrape the series from")
	}
	interval, ok := v.duration("metrics.interval", r.Interval, DefaultMetricsInterval)
	if ok && interval < minMetricsInterval {
		v.report("metrics.interval", "%v is shorter than %v", interval, minMetricsInterval)
	}
	c.Metrics.Interval = interval
}

func (v *validator) health(r rawHealth, c *Config) {
	c.Health.URL = v.guestURL("health.url", r.URL)
}

// guestURL reads an optional URL of the guest's HTTP server (metrics.url,
// health.url).
func (v *validator) guestURL(key string, x any) string {
	s, ok := v.str(key, x, "")
	if !ok || x == nil {
		return ""
	}
	if _, err := parseGuestURL(s); err != nil {
		v.report(key, "%v", err)
		return ""
	}
	return s
}

// section reads a flavor's section, decoded into raw (a pointer to its
// NewSection type): into c.Settings for a project of that flavor, and
// otherwise by refusing every key given.
func (v *validator) section(s flavorSection, raw any, c *Config) {
	name := s.name
	switch c.Flavor {
	case name:
		c.Settings = s.dec.DecodeSettings(&Section{v: v, name: name, c: c}, raw)
		return
	case "":
		// The flavor is itself in error: its rules cannot be judged.
		return
	}
	rv := reflect.ValueOf(raw).Elem()
	for i := range rv.NumField() {
		if !rv.Field(i).IsNil() {
			key := name + "." + rv.Type().Field(i).Tag.Get("toml")
			v.report(key, "only used with flavor = %q (this project's flavor is %q)", name, c.Flavor)
		}
	}
}
