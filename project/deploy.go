package project

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/pelletier/go-toml/v2"
)

// DeployTarget is what this package knows of one kind of place a deploy
// goes: its name, the value of a [deploy.<name>] section's target key, and
// the decoding of the section's other keys. Package deploy registers its
// targets here (deploy.Register), so that Parse decodes every
// [deploy.<name>] section in the same pass as the rest of the file.
type DeployTarget interface {
	// Name is the target's value of the target key ("gcp").
	Name() string
	// SettingsDecoder decodes the section's keys other than target; the
	// Section it gets reports keys as "deploy.<name>.<key>".
	SettingsDecoder
}

// Deploy is one [deploy.<name>] section of ukdev.toml.
type Deploy struct {
	// Name is the section's <name>.
	Name string
	// Target is its target key, one of DeployTargets().
	Target string
	// Settings are what the target decoded from the section's other keys;
	// the target's Open takes them.
	Settings any
}

// ErrNoDeploy is returned (wrapped) by Config.DeployNamed when the config
// has no [deploy.<name>] section that fits.
var ErrNoDeploy = errors.New("no deploy configured")

// DeployNamed returns the deploy called name, or the default one when name
// is empty: deploy.default, or the only section when there is one.
func (c *Config) DeployNamed(name string) (Deploy, error) {
	if name == "" {
		name = c.DefaultDeploy
	}
	if name == "" {
		if len(c.Deploys) == 0 {
			return Deploy{}, fmt.Errorf("project: %w: add a [deploy.<name>] section to %s (targets: %s)", ErrNoDeploy, c.Path, strings.Join(DeployTargets(), ", "))
		}
		return Deploy{}, fmt.Errorf("project: %w: %s has several deploys (%s): name one, or set deploy.default", ErrNoDeploy, c.Path, strings.Join(c.DeployNames(), ", "))
	}
	d, ok := c.Deploys[name]
	if !ok {
		known := "none"
		if len(c.Deploys) > 0 {
			known = strings.Join(c.DeployNames(), ", ")
		}
		return Deploy{}, fmt.Errorf("project: %w: no [deploy.%s] in %s (configured: %s)", ErrNoDeploy, name, c.Path, known)
	}
	return d, nil
}

// DeployNames returns the names of the configured deploys, sorted.
func (c *Config) DeployNames() []string {
	names := make([]string, 0, len(c.Deploys))
	for n := range c.Deploys {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

var (
	deployTargetsMu sync.RWMutex
	deployTargets   = map[string]DeployTarget{}
)

// RegisterDeployTarget makes t's section rules apply to [deploy.<name>]
// sections whose target is t.Name(). deploy.Register calls it; registering
// a name twice, or a NewSection that is not a pointer to a struct of
// tagged fields of type any (one tagged target among them), panics, as
// either is a programming error.
func RegisterDeployTarget(t DeployTarget) {
	name := t.Name()
	checkSection("RegisterDeployTarget", name, t.NewSection())
	for f := range reflect.TypeOf(t.NewSection()).Elem().Fields() {
		if f.Tag.Get("toml") == "target" {
			panic("project: RegisterDeployTarget: section of " + name + " has its own target key")
		}
	}
	deployTargetsMu.Lock()
	defer deployTargetsMu.Unlock()
	if _, dup := deployTargets[name]; dup {
		panic("project: RegisterDeployTarget called twice for " + name)
	}
	deployTargets[name] = t
}

// checkSection panics unless section, a SettingsDecoder's NewSection
// value, is a pointer to a struct of exported, tagged fields of type any.
func checkSection(caller, name string, section any) {
	t := reflect.TypeOf(section)
	if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		panic("project: " + caller + ": NewSection of " + name + " is not a pointer to a struct")
	}
	for f := range t.Elem().Fields() {
		if !f.IsExported() || f.Type.Kind() != reflect.Interface || f.Tag.Get("toml") == "" {
			panic("project: " + caller + ": section field " + name + "." + f.Name + " is not an exported, tagged field of type any")
		}
	}
}

// DeployTargets returns the names of the registered deploy targets,
// sorted: the values accepted for a deploy's target key.
func DeployTargets() []string {
	deployTargetsMu.RLock()
	defer deployTargetsMu.RUnlock()
	names := make([]string, 0, len(deployTargets))
	for n := range deployTargets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// lookupDeployTarget returns the target registered under name.
func lookupDeployTarget(name string) (DeployTarget, bool) {
	deployTargetsMu.RLock()
	defer deployTargetsMu.RUnlock()
	t, ok := deployTargets[name]
	return t, ok
}

// deploySection is one entry of the [deploy] table, as found before the
// file is decoded: the decoding type of a [deploy.<name>] section depends
// on its target.
type deploySection struct {
	name string
	// isTable says the entry is a table, a [deploy.<name>] section.
	isTable bool
	// target is the section's registered target; nil when the target key
	// is missing, not a string or unknown, and the section is then decoded
	// without checking its keys.
	target DeployTarget
	// field is the section's field in the decoding type.
	field int
}

// deployDefaultKey is the key of [deploy] naming the default deploy: no
// deploy can have that name.
const deployDefaultKey = "default"

// scanDeploys finds the entries of the [deploy] table, sorted by name.
// A file go-toml cannot read has none: its error is reported by the decode
// proper.
func scanDeploys(data []byte) []deploySection {
	var doc map[string]any
	if err := toml.Unmarshal(data, &doc); err != nil {
		return nil
	}
	table, ok := doc["deploy"].(map[string]any)
	if !ok {
		return nil
	}
	var list []deploySection
	for name, x := range table {
		if name == deployDefaultKey || !isDeployName(name) {
			continue
		}
		s := deploySection{name: name}
		if m, ok := x.(map[string]any); ok {
			s.isTable = true
			if target, ok := m["target"].(string); ok {
				s.target, _ = lookupDeployTarget(target)
			}
		}
		list = append(list, s)
	}
	slices.SortFunc(list, func(a, b deploySection) int { return strings.Compare(a.name, b.name) })
	return list
}

// isDeployName reports whether name can name a deploy: a bare key that
// also makes a safe part of resource names.
func isDeployName(name string) bool {
	return name != "" && len(name) <= maxNameLen && isBareKey(name)
}

// deployType returns the type the [deploy] table decodes into: its
// default key, then a field per entry (of a known target: target and the
// target's keys, checked by go-toml; otherwise any). It sets the entries'
// field indexes.
func deployType(sections []deploySection) reflect.Type {
	fields := []reflect.StructField{{Name: "Default", Type: reflect.TypeFor[any](), Tag: `toml:"` + deployDefaultKey + `"`}}
	for i := range sections {
		s := &sections[i]
		typ := reflect.TypeFor[any]()
		if s.target != nil {
			fs := []reflect.StructField{{Name: "Target", Type: reflect.TypeFor[any](), Tag: `toml:"target"`}}
			fs = append(fs, slices.Collect(reflect.TypeOf(s.target.NewSection()).Elem().Fields())...)
			for k := range fs {
				fs[k].Index, fs[k].Offset = nil, 0
			}
			typ = reflect.StructOf(fs)
		}
		s.field = len(fields)
		fields = append(fields, reflect.StructField{Name: fmt.Sprintf("Deploy%d", i), Type: typ, Tag: reflect.StructTag(`toml:"` + s.name + `"`)})
	}
	return reflect.StructOf(fields)
}

// deploys reads the [deploy] table, decoded into raw (a deployType
// value), into c.Deploys and c.DefaultDeploy.
func (v *validator) deploys(sections []deploySection, raw reflect.Value, c *Config) {
	for _, s := range sections {
		key := "deploy." + s.name
		x := raw.Field(s.field)
		if !s.isTable {
			msg := fmt.Sprintf("want a table ([%s] with target = one of %s)", key, strings.Join(DeployTargets(), ", "))
			if editDistance(strings.ToLower(s.name), deployDefaultKey) < 3 {
				msg += " (did you mean default?)"
			}
			v.report(key, "%s", msg)
			continue
		}
		if s.target == nil {
			m, _ := x.Interface().(map[string]any)
			v.unknownTarget(key, m["target"])
			continue
		}
		// The section's own keys, after target, are the target's.
		settings := reflect.New(reflect.TypeOf(s.target.NewSection()).Elem())
		for i := range settings.Elem().NumField() {
			settings.Elem().Field(i).Set(x.Field(i + 1))
		}
		sec := &Section{v: v, name: key, c: c}
		if c.Deploys == nil {
			c.Deploys = map[string]Deploy{}
		}
		c.Deploys[s.name] = Deploy{Name: s.name, Target: s.target.Name(), Settings: s.target.DecodeSettings(sec, settings.Interface())}
	}
	def := raw.Field(0).Interface()
	const key = "deploy." + deployDefaultKey
	switch name, ok := def.(string); {
	case def == nil:
		if len(sections) == 1 {
			c.DefaultDeploy = sections[0].name
		}
	case !ok:
		v.report(key, "want the name of a [deploy.<name>] section, got %s (no deploy can be named %s)", describe(def), deployDefaultKey)
	case !slices.ContainsFunc(sections, func(s deploySection) bool { return s.name == name }):
		known := "there is none"
		if len(sections) > 0 {
			names := make([]string, len(sections))
			for i, s := range sections {
				names[i] = s.name
			}
			known = "configured: " + strings.Join(names, ", ")
		}
		v.report(key, "no [deploy.%s] section (%s)", name, known)
	default:
		c.DefaultDeploy = name
	}
}

// unknownTarget reports a [deploy.<name>] section's missing, mistyped or
// unknown target.
func (v *validator) unknownTarget(section string, x any) {
	key := section + ".target"
	supported := strings.Join(DeployTargets(), ", ")
	switch t := x.(type) {
	case nil:
		v.report(key, "required: where the deploy goes, one of %s", supported)
	case string:
		v.report(key, "target %q is not supported; supported: %s", t, supported)
	default:
		v.report(key, "want a string, one of %s, got %s", supported, describe(x))
	}
}
