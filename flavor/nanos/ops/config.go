// Package ops reads what Nanos users already have from ops, Nanos' CLI: a
// project's config.json and the kernel cache under ~/.ops, and fetches a
// Nanos release into that cache on explicit request. It knows nothing of
// QEMU or of ukdev's own config.
package ops

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Config is an ops project config (config.json): the keys ukdev uses,
// parsed, and every other key named in Warnings.
type Config struct {
	// Path is the file the config was read from, "" for Parse without one.
	Path string
	// Program is the program's path in the image, when the config names it.
	Program string
	// Args are the program's arguments after argv[0].
	Args []string
	// Env is the program's environment.
	Env map[string]string
	// Dirs are host directories copied into the image at the same
	// (relative) path.
	Dirs []string
	// Files are host files copied into the image at the same (relative)
	// path.
	Files []string
	// MapDirs maps a host directory to its path in the image.
	MapDirs map[string]string
	// Klibs are the kernel libraries to load (from the kernel's klibs dir).
	Klibs []string
	// ManifestPassthrough is copied into the image's root tuple as is.
	ManifestPassthrough map[string]any
	// NanosVersion selects the kernel in the ops cache ("0.1.52").
	NanosVersion string
	// Kernel is an explicit kernel.img path.
	Kernel string
	// BaseVolumeSz is the root volume size ("100m"), "" for the minimum.
	BaseVolumeSz string
	// NameServer is the DNS server written to /etc/resolv.conf.
	NameServer string
	// LocalFilesParentDirectory is the directory Files and Dirs are
	// relative to; "" means the config's directory.
	LocalFilesParentDirectory string
	// RunConfig says how ops would run the image.
	RunConfig RunConfig
	// CloudConfig is kept for cloud deploys; the dev loop does not use it.
	CloudConfig CloudConfig
	// Warnings name every key ukdev does not act on, as "ignored: X".
	Warnings []string
}

// RunConfig is the run section of an ops config.
type RunConfig struct {
	// Ports are the TCP ports to forward, each "8080" or "8080-8090".
	Ports []string
	// UDPPorts are the UDP ports to forward, in the same forms.
	UDPPorts []string
	// Memory is the guest memory ("2G", "512M", "512"), "" for the default.
	Memory string
	// CPUs is the number of vCPUs, 0 for the default.
	CPUs int
	// Accel asks for hardware acceleration.
	Accel bool
	// Debug asks for a debuggable run.
	Debug bool
	// Klibs are more kernel libraries (older configs put them here).
	Klibs []string
}

// CloudConfig is the cloud section of an ops config, kept so a later
// deploy can use it.
type CloudConfig struct {
	Platform   string
	ProjectID  string
	Zone       string
	BucketName string
	Flavor     string
	// Raw holds every key of the section as written.
	Raw map[string]json.RawMessage
}

// PortRange is a range of forwarded ports, First == Last for one port.
type PortRange struct {
	// Proto is "tcp" or "udp".
	Proto       string
	First, Last int
}

// SyntaxError is a config that is not valid JSON or has a value of the
// wrong type; it says where.
type SyntaxError struct {
	Path         string
	Line, Column int
	Err          error
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("ops: %s:%d:%d: %v", e.Path, e.Line, e.Column, e.Err)
}

func (e *SyntaxError) Unwrap() error { return e.Err }

// ErrBadValue is returned (wrapped) for a well-formed value ukdev cannot
// use, such as a port "80a" or a memory size "2X".
var ErrBadValue = errors.New("bad value")

// Load reads and parses the ops config at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ops: load config: %w", err)
	}
	return Parse(path, data)
}

// Parse parses an ops config. Keys match case-insensitively, as they do
// for ops itself. path is used in errors only.
func Parse(path string, data []byte) (*Config, error) {
	if path == "" {
		path = "config.json"
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, jsonError(path, data, err)
	}
	c := &Config{Path: path}
	d := decoder{path: path, data: data}
	fields := []field{
		{"Program", &c.Program},
		{"Args", &c.Args},
		{"Env", &c.Env},
		{"Dirs", &c.Dirs},
		{"Files", &c.Files},
		{"MapDirs", &c.MapDirs},
		{"Klibs", &c.Klibs},
		{"ManifestPassthrough", &c.ManifestPassthrough},
		{"NanosVersion", &c.NanosVersion},
		{"Kernel", &c.Kernel},
		{"BaseVolumeSz", &c.BaseVolumeSz},
		{"NameServer", &c.NameServer},
		{"LocalFilesParentDirectory", &c.LocalFilesParentDirectory},
	}
	for _, key := range sortedKeys(top) {
		raw := top[key]
		switch {
		case strings.EqualFold(key, "RunConfig"):
			if err := d.runConfig(d.valueAt(0, key, raw), raw, &c.RunConfig, &c.Warnings); err != nil {
				return nil, err
			}
		case strings.EqualFold(key, "CloudConfig"):
			if err := d.cloudConfig(d.valueAt(0, key, raw), raw, &c.CloudConfig); err != nil {
				return nil, err
			}
			c.Warnings = append(c.Warnings, "ignored: CloudConfig (used by cloud deploys, not by the dev loop)")
		default:
			f, ok := lookup(fields, key)
			if !ok {
				c.Warnings = append(c.Warnings, "ignored: "+key)
				continue
			}
			if err := d.decode(f.name, d.valueAt(0, key, raw), raw, f.dst); err != nil {
				return nil, err
			}
		}
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// AllKlibs returns the kernel libraries of both places a config may list
// them, without duplicates, in order.
func (c *Config) AllKlibs() []string {
	var out []string
	seen := map[string]bool{}
	for _, k := range append(append([]string(nil), c.Klibs...), c.RunConfig.Klibs...) {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// PortRanges returns the TCP and UDP ports to forward.
func (r RunConfig) PortRanges() ([]PortRange, error) {
	var out []PortRange
	for _, set := range []struct {
		proto, key string
		list       []string
	}{{"tcp", "Ports", r.Ports}, {"udp", "UDPPorts", r.UDPPorts}} {
		for i, s := range set.list {
			p, err := ParsePortRange(s)
			if err != nil {
				return nil, fmt.Errorf("ops: RunConfig.%s[%d]: %w", set.key, i, err)
			}
			p.Proto = set.proto
			out = append(out, p)
		}
	}
	return out, nil
}

// MemoryMiB returns the memory size in MiB, 0 when the config sets none.
// A bare number is MiB, as for QEMU's -m; suffixes K, M, G and T (with or
// without a trailing B or i, any case) are binary units.
func (r RunConfig) MemoryMiB() (int, error) {
	return ParseMemoryMiB(r.Memory)
}

// ParsePortRange parses "8080" or "8080-8090" as a TCP range.
func ParsePortRange(s string) (PortRange, error) {
	first, last, isRange := strings.Cut(strings.TrimSpace(s), "-")
	a, err := parsePort(first)
	if err != nil {
		return PortRange{}, fmt.Errorf("port %q: %w", s, err)
	}
	b := a
	if isRange {
		if b, err = parsePort(last); err != nil {
			return PortRange{}, fmt.Errorf("port %q: %w", s, err)
		}
		if b < a {
			return PortRange{}, fmt.Errorf("port %q: range ends before it starts: %w", s, ErrBadValue)
		}
	}
	return PortRange{Proto: "tcp", First: a, Last: b}, nil
}

func parsePort(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("not a port number (1-65535): %w", ErrBadValue)
	}
	return n, nil
}

// ParseMemoryMiB parses a memory size such as "2G", "512M", "512" or
// "1.5G" into MiB; "" is 0.
func ParseMemoryMiB(s string) (int, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, nil
	}
	u := strings.ToUpper(t)
	u = strings.TrimSuffix(u, "B")
	u = strings.TrimSuffix(u, "I")
	scale := 1.0
	if n := len(u); n > 0 {
		switch u[n-1] {
		case 'K':
			scale, u = 1.0/1024, u[:n-1]
		case 'M':
			u = u[:n-1]
		case 'G':
			scale, u = 1024, u[:n-1]
		case 'T':
			scale, u = 1024*1024, u[:n-1]
		}
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(u), 64)
	mib := v * scale
	if err != nil || mib < 1 || mib > 1<<30 {
		return 0, fmt.Errorf("memory %q: not a size like 2G or 512M: %w", s, ErrBadValue)
	}
	return int(mib), nil
}

func (c *Config) validate() error {
	if _, err := c.RunConfig.PortRanges(); err != nil {
		return fmt.Errorf("ops: %s: %w", c.Path, errors.Unwrap(err))
	}
	if _, err := c.RunConfig.MemoryMiB(); err != nil {
		return fmt.Errorf("ops: %s: RunConfig.Memory: %w", c.Path, err)
	}
	if _, err := ParseSizeBytes(c.BaseVolumeSz); err != nil {
		return fmt.Errorf("ops: %s: BaseVolumeSz: %w", c.Path, err)
	}
	if c.RunConfig.CPUs < 0 {
		return fmt.Errorf("ops: %s: RunConfig.CPUs %d: %w", c.Path, c.RunConfig.CPUs, ErrBadValue)
	}
	return nil
}

type field struct {
	name string
	dst  any
}

func lookup(fields []field, key string) (field, bool) {
	for _, f := range fields {
		if strings.EqualFold(f.name, key) {
			return f, true
		}
	}
	return field{}, false
}

// decoder decodes one value of the config at a time, so a type error names
// the key and the place in the file.
type decoder struct {
	path string
	data []byte
}

func (d decoder) decode(label string, at int, raw json.RawMessage, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(dst); err != nil {
		line, col := position(d.data, at)
		return &SyntaxError{Path: d.path, Line: line, Column: col,
			Err: fmt.Errorf("%s: %w", label, err)}
	}
	return nil
}

// valueAt finds where the value of key starts in the file, searching from
// offset from (where the enclosing object starts): the decoded map has
// lost the positions, and keys are unique within an object.
func (d decoder) valueAt(from int, key string, raw json.RawMessage) int {
	from = min(max(from, 0), len(d.data))
	k := bytes.Index(d.data[from:], []byte(strconv.Quote(key)))
	if k < 0 {
		return from
	}
	k += from + len(strconv.Quote(key))
	if v := bytes.Index(d.data[k:], raw); v >= 0 {
		return k + v
	}
	return k
}

func (d decoder) runConfig(at int, raw json.RawMessage, rc *RunConfig, warnings *[]string) error {
	var m map[string]json.RawMessage
	if err := d.decode("RunConfig", at, raw, &m); err != nil {
		return err
	}
	fields := []field{
		{"Ports", &rc.Ports},
		{"UDPPorts", &rc.UDPPorts},
		{"Memory", &rc.Memory},
		{"CPUs", &rc.CPUs},
		{"Accel", &rc.Accel},
		{"Debug", &rc.Debug},
		{"Klibs", &rc.Klibs},
	}
	for _, key := range sortedKeys(m) {
		f, ok := lookup(fields, key)
		if !ok {
			*warnings = append(*warnings, "ignored: RunConfig."+key)
			continue
		}
		if err := d.decode("RunConfig."+f.name, d.valueAt(at, key, m[key]), m[key], f.dst); err != nil {
			return err
		}
	}
	return nil
}

func (d decoder) cloudConfig(at int, raw json.RawMessage, cc *CloudConfig) error {
	if err := d.decode("CloudConfig", at, raw, &cc.Raw); err != nil {
		return err
	}
	fields := []field{
		{"Platform", &cc.Platform},
		{"ProjectID", &cc.ProjectID},
		{"Zone", &cc.Zone},
		{"BucketName", &cc.BucketName},
		{"Flavor", &cc.Flavor},
	}
	for _, key := range sortedKeys(cc.Raw) {
		if f, ok := lookup(fields, key); ok {
			if err := d.decode("CloudConfig."+f.name, d.valueAt(at, key, cc.Raw[key]), cc.Raw[key], f.dst); err != nil {
				return err
			}
		}
	}
	return nil
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// jsonError turns a JSON error into a SyntaxError at its line and column.
func jsonError(path string, data []byte, err error) error {
	var off int64
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		// Offset counts the bytes read, the offending one included.
		off = se.Offset - 1
	case errors.As(err, &te):
		// Offset is past the whole value: point at where the document starts.
		off = int64(len(data) - len(bytes.TrimLeft(data, " \t\r\n")))
		err = fmt.Errorf("the config must be a JSON object: %w", err)
	default:
		return fmt.Errorf("ops: %s: %w", path, err)
	}
	line, col := position(data, int(off))
	return &SyntaxError{Path: path, Line: line, Column: col, Err: err}
}

// position converts a byte offset into a 1-based line and column.
func position(data []byte, off int) (line, col int) {
	off = min(max(off, 0), len(data))
	before := data[:off]
	line = bytes.Count(before, []byte("\n")) + 1
	col = off - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}

// ParseSizeBytes parses a volume size such as BaseVolumeSz ("100m", "1G",
// "512k", "1048576") into bytes; "" is 0. Suffixes are binary units.
func ParseSizeBytes(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	if t == "" {
		return 0, nil
	}
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	scale := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'K':
			scale, t = 1<<10, t[:n-1]
		case 'M':
			scale, t = 1<<20, t[:n-1]
		case 'G':
			scale, t = 1<<30, t[:n-1]
		case 'T':
			scale, t = 1<<40, t[:n-1]
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
	if err != nil || n < 0 || n > (1<<50)/scale {
		return 0, fmt.Errorf("size %q: not a size like 100m or 1g: %w", s, ErrBadValue)
	}
	return n * scale, nil
}
