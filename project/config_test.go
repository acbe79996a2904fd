package project_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	_ "github.com/ukdev/ukdev/flavor/all"
	"github.com/ukdev/ukdev/project"
	"github.com/ukdev/ukdev/project/projecttest"
)

// root is where test configs pretend to live.
const root = "/work/proj"

func parseTest(t *testing.T, doc string) (*project.Config, error) {
	t.Helper()
	return project.Parse(filepath.Join(root, project.FileName), []byte(doc))
}

func TestParseDefaults(t *testing.T) {
	c, err := parseTest(t, "kernel.image = \"build/hello.elf\"\n")
	if err != nil {
		t.Fatal(err)
	}
	want := &project.Config{
		Path:   filepath.Join(root, project.FileName),
		Root:   root,
		Name:   "proj",
		Flavor: project.DefaultFlavor,
		Build:  project.Build{Dir: root},
		Watch:  project.Watch{Paths: []string{root}, Debounce: 100 * time.Millisecond, MaxWait: 2 * time.Second},
		Kernel: project.Kernel{Image: root + "/build/hello.elf", Symbols: root + "/build/hello.elf"},
		VM:     project.VM{QEMU: "qemu-system-x86_64", MemoryMiB: 128, CPUs: 1, Accel: "auto", Machine: "auto"},
		Logs:   project.Logs{KeepBoots: 50, MaxBytes: 256 << 20},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
}

func TestParseFull(t *testing.T) {
	doc := `
name = "hello"
flavor = "` + project.DefaultFlavor + `"
[build]
command = "make -j2"
dir = "src"
env = { CFLAGS = "-O2", "WITH SPACE" = "x" }
[watch]
paths = [".", "/abs/lib", "../shared"]
ignore = ["*.o", "build/"]
debounce = "50ms"
max_wait = "1s"
[kernel]
image = "/abs/build/hello.elf"
initrd = "initrd.cpio"
symbols = "build/hello.dbg"
cmdline = "console=ttyS0"
[vm]
qemu = "/usr/bin/qemu-system-x86_64"
memory = "1G"
cpus = 2
accel = "tcg"
machine = "microvm"
ports = ["8080:80", "127.0.0.1:2222:22", "udp:5353:53", "127.0.0.2:8080:80", "tcp:0.0.0.0:9000:9000"]
args = ["-d", "int"]
[logs]
keep_boots = 3
max_bytes = 1048576
`
	c, err := parseTest(t, doc)
	if err != nil {
		t.Fatal(err)
	}
	want := &project.Config{
		Path:   filepath.Join(root, project.FileName),
		Root:   root,
		Name:   "hello",
		Flavor: project.DefaultFlavor,
		Build: project.Build{Command: "make -j2", CommandSet: true, Dir: root + "/src",
			Env: map[string]string{"CFLAGS": "-O2", "WITH SPACE": "x"}},
		Watch: project.Watch{Paths: []string{root, "/abs/lib", "/work/shared"}, Ignore: []string{"*.o", "build/"},
			Debounce: 50 * time.Millisecond, MaxWait: time.Second},
		Kernel: project.Kernel{Image: "/abs/build/hello.elf", Initrd: root + "/initrd.cpio",
			Symbols: root + "/build/hello.dbg", Cmdline: "console=ttyS0"},
		VM: project.VM{QEMU: "/usr/bin/qemu-system-x86_64", MemoryMiB: 1024, MemorySet: true, CPUs: 2, CPUsSet: true, Accel: "tcg", Machine: "microvm",
			Ports: []project.Port{
				{Proto: "tcp", HostAddr: "127.0.0.1", HostPort: 8080, GuestPort: 80, Spec: "8080:80"},
				{Proto: "tcp", HostAddr: "127.0.0.1", HostPort: 2222, GuestPort: 22, Spec: "127.0.0.1:2222:22"},
				{Proto: "udp", HostAddr: "127.0.0.1", HostPort: 5353, GuestPort: 53, Spec: "udp:5353:53"},
				{Proto: "tcp", HostAddr: "127.0.0.2", HostPort: 8080, GuestPort: 80, Spec: "127.0.0.2:8080:80"},
				{Proto: "tcp", HostAddr: "0.0.0.0", HostPort: 9000, GuestPort: 9000, Spec: "tcp:0.0.0.0:9000:9000"},
			},
			Args: []string{"-d", "int"}, Network: true},
		Logs: project.Logs{KeepBoots: 3, MaxBytes: 1 << 20},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
}

func TestParseForms(t *testing.T) {
	tests := []struct {
		name  string
		doc   string
		check func(*project.Config) bool
	}{
		{"dotted keys, two lines",
			"build.command = \"make\"\nkernel.image = \"k.elf\"\n",
			func(c *project.Config) bool { return c.Build.Command == "make" && c.Kernel.Image == root+"/k.elf" }},
		{"inline tables",
			"kernel = { image = \"k.elf\", cmdline = \"quiet\" }\nvm = { cpus = 2, memory = 64 }\n",
			func(c *project.Config) bool {
				return c.Kernel.Cmdline == "quiet" && c.VM.CPUs == 2 && c.VM.MemoryMiB == 64
			}},
		{"dotted key inside a table",
			"[build]\nenv.CC = \"clang\"\n[kernel]\nimage = \"k\"\n",
			func(c *project.Config) bool { return c.Build.Env["CC"] == "clang" }},
		{"memory plain string is MiB", "kernel.image = \"k\"\nvm.memory = \"256\"\n",
			func(c *project.Config) bool { return c.VM.MemoryMiB == 256 }},
		{"memory MiB suffix", "kernel.image = \"k\"\nvm.memory = \"512MiB\"\n",
			func(c *project.Config) bool { return c.VM.MemoryMiB == 512 }},
		{"memory in KiB when whole MiB", "kernel.image = \"k\"\nvm.memory = \"2048K\"\n",
			func(c *project.Config) bool { return c.VM.MemoryMiB == 2 }},
		{"network without ports", "kernel.image = \"k\"\nvm.network = true\n",
			func(c *project.Config) bool { return c.VM.Network && len(c.VM.Ports) == 0 }},
		{"network implied by ports", "kernel.image = \"k\"\nvm.network = false\nvm.ports = [\"80:80\"]\n",
			func(c *project.Config) bool { return c.VM.Network }},
		{"max_bytes string", "kernel.image = \"k\"\nlogs.max_bytes = \"1G\"\n",
			func(c *project.Config) bool { return c.Logs.MaxBytes == 1<<30 }},
		{"empty command means no build", "kernel.image = \"k\"\nbuild.command = \"\"\n",
			func(c *project.Config) bool { return c.Build.Command == "" }},
		{"crlf line endings", "kernel.image = \"k\"\r\nvm.cpus = 3\r\n",
			func(c *project.Config) bool { return c.VM.CPUs == 3 }},
		{"debounce zero", "kernel.image = \"k\"\nwatch.debounce = \"0s\"\n",
			func(c *project.Config) bool { return c.Watch.Debounce == 0 }},
		{"same port tcp and udp", "kernel.image = \"k\"\nvm.ports = [\"53:53\", \"udp:53:53\"]\n",
			func(c *project.Config) bool { return len(c.VM.Ports) == 2 }},
		{"same port on two addresses", "kernel.image = \"k\"\nvm.ports = [\"127.0.0.1:80:80\", \"127.0.0.2:80:80\"]\n",
			func(c *project.Config) bool { return len(c.VM.Ports) == 2 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseTest(t, tt.doc)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Errorf("unexpected config %+v", c)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	const img = "kernel.image = \"k\"\n"
	tests := []struct {
		name      string
		doc       string
		line, col int
		key       string
		msg       string // a substring of Msg
	}{
		{"syntax: missing value", "name = \n", 1, 8, "", "unexpected character U+000A at start of value"},
		{"syntax: bad table header", img + "[vm\n", 2, 4, "", "']'"},
		{"syntax: unterminated string", img + "[vm]\nqemu = \"abc\n", 3, 12, "", "basic strings cannot have new lines"},
		{"duplicate key", img + "name = \"a\"\nname = \"b\"\n", 3, 1, "name", "already defined"},
		{"table defined twice", img + "[vm]\n[vm]\n", 3, 2, "vm", "already"},
		{"unknown top-level key", img + "nmae = \"x\"\n", 2, 1, "nmae", "did you mean name?"},
		{"unknown key in table", img + "[vm]\ncpus = 1\nmemroy = \"1G\"\n", 4, 1, "vm.memroy", "did you mean memory?"},
		{"unknown key without suggestion", img + "[logs]\nfoo = 1\n", 3, 1, "logs.foo", "[logs] accepts: keep_boots, max_bytes"},
		{"unknown section", img + "[vmm]\ncpus = 1\n", 2, 2, "vmm", "unknown key"},
		{"section not a table", img + "vm = 3\n", 2, 6, "vm", "want a table"},
		{"array of tables", img + "[[vm]]\n", 2, 3, "vm", "want a table"},
		{"name wrong type", img + "name = 1\n", 2, 8, "name", "want a string, got an integer"},
		{"name unsafe", img + "name = \"a/b\"\n", 2, 8, "name", "use only letters"},
		{"name empty", img + "name = \"\"\n", 2, 8, "name", "want 1 to 64"},
		{"flavor unsupported", "flavor = \"mirage\"\n" + img, 1, 10, "flavor", `"mirage" is not supported; supported: elf, linux, nanos, unikraft`},
		{"command wrong type", img + "build.command = [\"make\"]\n", 2, 17, "build.command", "got an array"},
		{"dir empty", img + "[build]\ndir = \"\"\n", 3, 7, "build.dir", "empty path"},
		{"env not a table", img + "build.env = \"A=1\"\n", 2, 13, "build.env", "want a table"},
		{"env value not a string", img + "[build]\nenv = { A = \"x\", B = 1 }\n", 3, 22, "build.env.B", "got an integer"},
		{"env value in dotted form", img + "[build]\nenv.\"X Y\" = true\n", 3, 13, `build.env."X Y"`, "got a boolean"},
		{"paths not an array", img + "watch.paths = \".\"\n", 2, 15, "watch.paths", "want an array of strings"},
		{"paths element", img + "[watch]\npaths = [\".\", 3]\n", 3, 15, "watch.paths[1]", "got an integer"},
		{"paths empty", img + "watch.paths = []\n", 2, 15, "watch.paths", "at least one"},
		{"ignore empty pattern", img + "watch.ignore = [\"*.o\", \" \"]\n", 2, 24, "watch.ignore[1]", "empty pattern"},
		{"bad duration", img + "[watch]\ndebounce = \"100\"\n", 3, 12, "watch.debounce", `bad duration "100"`},
		{"duration wrong type", img + "[watch]\ndebounce = 100\n", 3, 12, "watch.debounce", "want a duration string"},
		{"negative duration", img + "watch.max_wait = \"-1s\"\n", 2, 18, "watch.max_wait", "negative"},
		{"max_wait below debounce", img + "[watch]\ndebounce = \"3s\"\nmax_wait = \"1s\"\n", 4, 12, "watch.max_wait", "shorter than debounce"},
		{"missing image, no kernel table", "build.command = \"make\"\n", 1, 1, "kernel.image", "required"},
		{"missing image, kernel table", "name = \"x\"\n\n[kernel]\ncmdline = \"q\"\n", 3, 2, "kernel.image", "required"},
		{"missing image, dotted kernel key", "name = \"x\"\nkernel.cmdline = \"q\"\n", 2, 1, "kernel.image", "required"},
		{"empty image", "[kernel]\nimage = \"\"\n", 2, 9, "kernel.image", "required"},
		{"image wrong type", "kernel.image = 5\n", 1, 16, "kernel.image", "got an integer"},
		{"qemu empty", img + "vm.qemu = \"\"\n", 2, 11, "vm.qemu", "empty QEMU"},
		{"memory bad unit", img + "[vm]\nmemory = \"12X\"\n", 3, 10, "vm.memory", `bad size "12X"`},
		{"memory too small", img + "vm.memory = \"512K\"\n", 2, 13, "vm.memory", "not a whole number of MiB"},
		{"memory zero", img + "vm.memory = 0\n", 2, 13, "vm.memory", "minimum of 1 MiB"},
		{"memory fractional", img + "vm.memory = \"1.5G\"\n", 2, 13, "vm.memory", "unknown unit"},
		{"memory wrong type", img + "vm.memory = true\n", 2, 13, "vm.memory", "got a boolean"},
		{"memory float", img + "vm.memory = 1.5\n", 2, 13, "vm.memory", "got a float"},
		{"memory too large", img + "vm.memory = \"2048T\"\n", 2, 13, "vm.memory", "more than"},
		{"cpus zero", img + "[vm]\ncpus = 0\n", 3, 8, "vm.cpus", "0 is less than 1"},
		{"cpus string", img + "[vm]\ncpus = \"2\"\n", 3, 8, "vm.cpus", "want an integer, got a string"},
		{"cpus huge", img + "vm.cpus = 99999999999999999999\n", 2, 11, "vm.cpus", ""},
		{"accel enum", img + "[vm]\naccel = \"hvf\"\n", 3, 9, "vm.accel", `"hvf" is not one of auto, kvm, tcg`},
		{"machine enum", img + "vm.machine = \"virt\"\n", 2, 14, "vm.machine", "auto, microvm, pc, q35"},
		{"bad port", img + "[vm]\nports = [\"8080:80\",\n  \"80\"]\n", 4, 3, "vm.ports[1]", `bad port forward "80": want [proto:][addr:]hostport:guestport`},
		{"port range", img + "vm.ports = [\"8000-8010:8000-8010\"]\n", 2, 13, "vm.ports[0]", "ranges are not supported"},
		{"port out of range", img + "vm.ports = [\"70000:80\"]\n", 2, 13, "vm.ports[0]", "from 1 to 65535"},
		{"port wrong type", img + "vm.ports = [8080]\n", 2, 13, "vm.ports[0]", "got an integer"},
		{"duplicate host port", img + "vm.ports = [\"8080:80\", \"127.0.0.1:8080:81\"]\n", 2, 24, "vm.ports[1]", "already forwarded by vm.ports[0]"},
		{"duplicate with wildcard", img + "vm.ports = [\"0.0.0.0:8080:80\", \"8080:81\"]\n", 2, 32, "vm.ports[1]", "8080/tcp"},
		{"ipv6 host address", img + "[vm]\nports = [\"8080:80\", \"[::1]:18094:80\"]\n", 3, 21, "vm.ports[1]", `bad port forward "[::1]:18094:80": host address ::1 is IPv6`},
		{"args element", img + "vm.args = [\"-s\", false]\n", 2, 18, "vm.args[1]", "got a boolean"},
		{"network wrong type", img + "vm.network = \"yes\"\n", 2, 14, "vm.network", "want true or false"},
		{"keep_boots zero", img + "[logs]\nkeep_boots = 0\n", 3, 14, "logs.keep_boots", "0 is less than 1"},
		{"cpus too many", img + "vm.cpus = 1025\n", 2, 11, "vm.cpus", "1025 is more than 1024"},
		{"max_bytes bad", img + "[logs]\nmax_bytes = \"lots\"\n", 3, 13, "logs.max_bytes", `bad size "lots"`},
		{"max_bytes zero", img + "logs.max_bytes = 0\n", 2, 18, "logs.max_bytes", "less than 1 byte"},
		{"date value", img + "name = 1979-05-27\n", 2, 8, "name", "got a date or time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { projecttest.CheckError(t, tt.doc, tt.line, tt.col, tt.key, tt.msg) })
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		e    project.Error
		want string
	}{
		{project.Error{File: "ukdev.toml", Line: 7, Column: 9, Key: "vm.ports[1]", Msg: `bad port forward "80": want [proto:][addr:]hostport:guestport`},
			`ukdev.toml:7:9: vm.ports[1]: bad port forward "80": want [proto:][addr:]hostport:guestport`},
		{project.Error{File: "a/ukdev.toml", Line: 1, Column: 3, Msg: "expected value"}, "a/ukdev.toml:1:3: expected value"},
		{project.Error{File: "ukdev.toml", Msg: "odd"}, "ukdev.toml: odd"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, project.FileName)
	if err := os.WriteFile(path, []byte("kernel.image = \"k.elf\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := project.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Root != dir || c.Kernel.Image != filepath.Join(dir, "k.elf") || c.Name != filepath.Base(dir) {
		t.Errorf("unexpected config %+v", c)
	}
	if _, err := project.Load(filepath.Join(dir, "missing.toml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("project.Load(missing) = %v, want ErrNotExist", err)
	}
}

func FuzzParse(f *testing.F) {
	seeds := []string{
		"",
		"kernel.image = \"k\"\n",
		"[vm]\nports = [\"8080:80\", \"[::1]:1:2\", \"udp:5353:53\"]\nmemory = \"1G\"\n",
		"[build]\nenv = { A = \"1\", B.C = \"2\" }\n",
		"kernel = { image = \"k\" }\nvm = [1, [2, {a = 1}]]\n",
		"[[vm]]\n[vm.x]\n",
		"a.b.c = 1\n\"q.k\" = 2\n",
		"name = \"\"\"\nx\"\"\"\n",
		"[watch]\npaths = [\n  \".\", # c\n]\n",
		string(project.InitFile(project.Detection{})),
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := project.Parse(project.FileName, data)
		if err == nil && c == nil {
			t.Fatal("nil config without error")
		}
		var e *project.Error
		if err != nil && !errors.As(err, &e) {
			t.Fatalf("error %v is %T, not *project.Error", err, err)
		}
		if e != nil && (e.Line < 1 || e.Column < 1) {
			t.Fatalf("error without a position: %v", e)
		}
	})
}

// A file with several mistakes reports the one that comes first in the file,
// the same one every time: the keys of a section and the names of
// build.env are checked in file order (the flavors' tests cover their
// sections).
func TestParseFirstErrorInFileOrder(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want string
	}{
		{"sections in file order",
			"kernel.image = \"k\"\n[logs]\nkeep_boots = 0\n[vm]\ncpus = 0\n[build]\ndir = \"\"\n",
			`ukdev.toml:3:14: logs.keep_boots: 0 is less than 1`},
		{"value before an unknown key",
			"kernel.image = \"k\"\nvm.cpus = 0\nvm.bogus = 1\nnmae = \"x\"\n",
			`ukdev.toml:2:11: vm.cpus: 0 is less than 1`},
		{"unknown key before a value",
			"kernel.image = \"k\"\nvm.bogus = 1\nvm.cpus = 0\n",
			`ukdev.toml:2:1: vm.bogus: unknown key; [vm] accepts: qemu, memory, cpus, accel, machine, ports, args, network`},
		{"a missing key after the keys given",
			"vm.cpus = 0\n",
			`ukdev.toml:1:11: vm.cpus: 0 is less than 1`},
		{"environment in file order",
			"kernel.image = \"k\"\nbuild.env = { Z = 1, A = 2 }\n",
			`ukdev.toml:2:19: build.env.Z: want a string, got an integer`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := projecttest.OneError(t, tt.doc); got != tt.want {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}
}
