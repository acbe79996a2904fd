package project

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Flavor is what this package knows of one kind of unikernel: its rules
// on the shared keys of ukdev.toml, how to recognise one of its projects,
// and what `ukdev init` writes for one. The flavor's package registers it
// (RegisterFlavor); Parse, Detect and InitFile never name a flavor
// themselves. A Flavor with its own section of ukdev.toml also implements
// SettingsDecoder.
type Flavor interface {
	// Name is the flavor's value of the flavor key ("nanos"), and the name
	// of its own section.
	Name() string
	// KernelKeys says how the flavor uses the shared [kernel] keys.
	KernelKeys() KernelKeys
	// DetectOrder places the flavor among the others in Detect: lower
	// goes first. A flavor recognised by a file that names it (a
	// Kraftfile) goes before one recognised by a kind of program, and the
	// flavor that matches any directory goes last.
	DetectOrder() int
	// Detect says whether the project in dir looks like one of this
	// flavor's, and how it is built and booted. asked says the user chose
	// the flavor (ukdev init --flavor), which may make it accept more. When
	// it does not match, the Detection it returns holds the placeholders a
	// config of the flavor needs, and in Reason what was not found ("there
	// is no Kraftfile: set build.command"). It reads files, never runs
	// anything; Flavor is filled in by the caller.
	Detect(dir string, asked bool) (d Detection, ok bool)
	// InitParts returns what `ukdev init` writes differently for a
	// detection of this flavor.
	InitParts(d Detection) InitParts
}

// SettingsDecoder is a Flavor with its own section of ukdev.toml, named
// after it ([nanos]). Parse decodes the section of the project's flavor
// into its settings (Config.Settings), and refuses the keys of the other
// flavors' sections.
type SettingsDecoder interface {
	// NewSection returns a pointer to a new zero struct to decode the
	// section into, its fields of type any and tagged with their keys
	// (`toml:"boot"`): go-toml then reports unknown keys at their places
	// with the closest known one, and values of any type reach
	// DecodeSettings to be judged in plain words. A field left nil was not
	// given.
	NewSection() any
	// DecodeSettings reads raw, a NewSection value after decoding,
	// reporting every problem through s, and returns the flavor's
	// settings. It runs for a project of this flavor only, even when the
	// section is absent.
	DecodeSettings(s *Section, raw any) any
}

// KernelKeys is a flavor's rules on the shared [kernel] keys.
type KernelKeys struct {
	// Image explains kernel.image when the flavor needs it, in the words
	// that follow "required for flavor X: " ("the path of the program the
	// build produces, relative to the project root (kernel.image =
	// \"app\")"); empty when the flavor finds the image itself.
	Image string
	// Unused are the keys of [kernel] the flavor would not act on, in the
	// section's order: Parse refuses them rather than ignore them
	// silently.
	Unused []UnusedKey
}

// UnusedKey is a [kernel] key a flavor does not use, and why.
type UnusedKey struct {
	// Key is the key inside [kernel] ("initrd").
	Key string
	// Why tells the user what to do instead.
	Why string
}

// InitParts is what `ukdev init` writes differently for one flavor: each
// line replaces the generic one, a zero field keeps it. Lines are whole,
// comments included; TOMLString quotes values.
type InitParts struct {
	// BuildCommand is the commented build.command line written when the
	// detection found no command.
	BuildCommand string
	// WatchIgnore is the watch.ignore line.
	WatchIgnore string
	// IgnoreProgram says that the image is a program the build writes into
	// the project (and go build a temporary file beside it): watch.ignore
	// then names those files rather than the image's directory.
	IgnoreProgram bool
	// Kernel are all the lines of [kernel].
	Kernel []string
	// Memory is the commented vm.memory line.
	Memory string
	// ForwardPorts writes the detected ports as vm.ports, each host port
	// the same as the guest's.
	ForwardPorts bool
	// PortsNote is a comment line written after vm.ports.
	PortsNote string
	// Section are the lines of the flavor's own section, header included,
	// written last.
	Section []string
	// Files are written beside ukdev.toml (InitExtras).
	Files []ExtraFile
}

// ExtraFile is a file `ukdev init` writes beside ukdev.toml for a flavor
// (ops' config.json for nanos), only when the project has none of that
// name: it never replaces one.
type ExtraFile struct {
	// Name is the file's path relative to the project directory.
	Name string
	// Data is its content.
	Data []byte
	// About says what the file is for, in a message after its path.
	About string
}

var (
	flavorsMu sync.RWMutex
	flavors   = map[string]Flavor{}
)

// RegisterFlavor makes f's rules apply to projects of flavor f.Name(). A
// flavor's package calls it from init; registering a name twice, or a
// SettingsDecoder whose NewSection is not a pointer to a struct of
// tagged fields of type any, panics, as either is a programming error.
func RegisterFlavor(f Flavor) {
	name := f.Name()
	if sd, ok := f.(SettingsDecoder); ok {
		checkSection("RegisterFlavor", name, sd.NewSection())
	}
	flavorsMu.Lock()
	defer flavorsMu.Unlock()
	if _, dup := flavors[name]; dup {
		panic("project: RegisterFlavor called twice for " + name)
	}
	flavors[name] = f
}

// Flavors returns the names of the registered flavors, sorted: the values
// accepted for the flavor key.
func Flavors() []string {
	flavorsMu.RLock()
	defer flavorsMu.RUnlock()
	names := make([]string, 0, len(flavors))
	for n := range flavors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// LookupFlavor returns the rules registered under name.
func LookupFlavor(name string) (Flavor, bool) {
	flavorsMu.RLock()
	defer flavorsMu.RUnlock()
	f, ok := flavors[name]
	return f, ok
}

// registered returns the registered flavors, sorted by name.
func registered() []Flavor {
	var list []Flavor
	for _, n := range Flavors() {
		f, _ := LookupFlavor(n)
		list = append(list, f)
	}
	return list
}

// inDetectOrder returns the registered flavors in the order Detect tries
// them: by DetectOrder, then by name.
func inDetectOrder() []Flavor {
	list := registered()
	slices.SortStableFunc(list, func(a, b Flavor) int { return cmp.Compare(a.DetectOrder(), b.DetectOrder()) })
	return list
}

// unsupported explains a flavor name that is not registered.
func unsupported(name string) string {
	return fmt.Sprintf("flavor %q is not supported; supported: %s", name, strings.Join(Flavors(), ", "))
}

// Section reads a flavor's own section of ukdev.toml for its
// DecodeSettings. Its readers take a key of the section ("boot") and the
// raw value go-toml decoded for it (nil when the key is not given); they
// return the value read and ok, and when ok is false the problem is
// already reported, at the value's place and under the full key
// ("nanos.boot"), and the value must not be used. Parse reports the first
// problem in the file among all sections.
type Section struct {
	v    *validator
	name string
	c    *Config
}

// Name is the section's name as written in the file: the flavor's
// ("nanos"), or "deploy.<name>" for a deploy's.
func (s *Section) Name() string { return s.name }

// Root is the project root, which relative paths are read against.
func (s *Section) Root() string { return s.c.Root }

// key makes a key of the section a full key.
func (s *Section) key(k string) string { return s.name + "." + k }

// Report records a problem with key, at its value's place (or where the
// section is when the key is not given).
func (s *Section) Report(key, format string, args ...any) {
	s.v.report(s.key(key), format, args...)
}

// String reads an optional string, def when x is nil.
func (s *Section) String(key string, x any, def string) (string, bool) {
	return s.v.str(s.key(key), x, def)
}

// OneOf reads an optional string that must be one of allowed, def when x
// is nil.
func (s *Section) OneOf(key string, x any, def string, allowed []string) (string, bool) {
	return s.v.oneOf(s.key(key), x, def, allowed)
}

// Path reads an optional path and makes it absolute against Root; "" when
// x is nil. An explicit empty string is an error unless allowEmpty (and
// then reads as "").
func (s *Section) Path(key string, x any, allowEmpty bool) (string, bool) {
	return s.v.path(s.key(key), x, s.c.Root, allowEmpty)
}

// Item is a string element of an array, with its key in the section
// ("files[1]"), which Report and Path take.
type Item struct {
	Key   string
	Value string
}

// Items reads an optional array of strings (nil when x is nil), reporting
// every element that is not a string and returning the others; example
// shows the expected form in messages (`"etc/motd:/etc/motd"`).
func (s *Section) Items(key string, x any, example string) ([]Item, bool) {
	raw, ok := s.v.strItems(s.key(key), x, example)
	items := make([]Item, 0, len(raw))
	for _, it := range raw {
		items = append(items, Item{Key: strings.TrimPrefix(it.key, s.name+"."), Value: it.s})
	}
	return items, ok
}

// Include records that the flavor's settings are also read from the file
// at path (ops' config.json): Config.Includes lists it, so that a change
// to it counts as a change of ukdev.toml.
func (s *Section) Include(path string) {
	s.c.Includes = append(s.c.Includes, path)
}
