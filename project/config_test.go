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

// parseTest parses doc as the ukdev.toml at root, failing t if it does
// not parse.
func parseTest(t *testing.T, doc string) *project.Config {
	t.Helper()
	return projecttest.MustParse(t, filepath.Join(root, project.FileName), []byte(doc))
}

func TestParseDefaults(t *testing.T) {
	c := parseTest(t, "kernel.image = \"build/hello.elf\"\n")
	want := &project.Config{
		Path:    filepath.Join(root, project.FileName),
		Root:    root,
		Name:    "proj",
		Flavor:  project.DefaultFlavor,
		Build:   project.Build{Dir: root},
		Watch:   project.Watch{Paths: []string{root}, Debounce: 100 * time.Millisecond, MaxWait: 2 * time.Second, Settle: 8 * time.Millisecond},
		Kernel:  project.Kernel{Image: root + "/build/hello.elf", Symbols: root + "/build/hello.elf"},
		VM:      project.VM{QEMU: "qemu-system-x86_64", MemoryMiB: 128, CPUs: 1, Accel: "auto", Machine: "auto", Backend: project.BackendQEMU},
		Logs:    project.Logs{KeepBoots: 50, MaxBytes: 256 << 20},
		Metrics: project.Metrics{Interval: time.Second},
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
settle = "5ms"
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
[metrics]
url = ":8080/metrics"
series = ["go_goroutines", 'http_requests_total{code="200"}']
interval = "500ms"
[health]
url = "http://localhost:8080/healthz?full=1"
`
	c := parseTest(t, doc)
	want := &project.Config{
		Path:   filepath.Join(root, project.FileName),
		Root:   root,
		Name:   "hello",
		Flavor: project.DefaultFlavor,
		Build: project.Build{Command: "make -j2", CommandSet: true, Dir: root + "/src",
			Env: map[string]string{"CFLAGS": "-O2", "WITH SPACE": "x"}},
		Watch: project.Watch{Paths: []string{root, "/abs/lib", "/work/shared"}, Ignore: []string{"*.o", "build/"},
			Debounce: 50 * time.Millisecond, MaxWait: time.Second, Settle: 5 * time.Millisecond},
		Kernel: project.Kernel{Image: "/abs/build/hello.elf", Initrd: root + "/initrd.cpio",
			Symbols: root + "/build/hello.dbg", Cmdline: "console=ttyS0"},
		VM: project.VM{QEMU: "/usr/bin/qemu-system-x86_64", MemoryMiB: 1024, MemorySet: true, CPUs: 2, CPUsSet: true, Accel: "tcg", Machine: "microvm", Backend: project.BackendQEMU,
			Ports: []project.Port{
				{Proto: "tcp", HostAddr: "127.0.0.1", HostPort: 8080, GuestPort: 80, Spec: "8080:80"},
				{Proto: "tcp", HostAddr: "127.0.0.1", HostPort: 2222, GuestPort: 22, Spec: "127.0.0.1:2222:22"},
				{Proto: "udp", HostAddr: "127.0.0.1", HostPort: 5353, GuestPort: 53, Spec: "udp:5353:53"},
				{Proto: "tcp", HostAddr: "127.0.0.2", HostPort: 8080, GuestPort: 80, Spec: "127.0.0.2:8080:80"},
				{Proto: "tcp", HostAddr: "0.0.0.0", HostPort: 9000, GuestPort: 9000, Spec: "tcp:0.0.0.0:9000:9000"},
			},
			Args: []string{"-d", "int"}, Network: true},
		Logs: project.Logs{KeepBoots: 3, MaxBytes: 1 << 20},
		Metrics: project.Metrics{URL: ":8080/metrics", Series: []string{"go_goroutines", `http_requests_total{code="200"}`},
			Interval: 500 * time.Millisecond},
		Health: project.Health{URL: "http://localhost:8080/healthz?full=1"},
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
		{"settle capped by a shorter debounce", "kernel.image = \"k\"\nwatch.debounce = \"5ms\"\n",
			func(c *project.Config) bool { return c.Watch.Settle == 5*time.Millisecond }},
		{"settle zero is the default", "kernel.image = \"k\"\nwatch.settle = \"0s\"\n",
			func(c *project.Config) bool { return c.Watch.Settle == project.DefaultSettle }},
		{"settle equal to debounce", "kernel.image = \"k\"\nwatch.settle = \"100ms\"\n",
			func(c *project.Config) bool { return c.Watch.Settle == 100*time.Millisecond }},
		{"same port tcp and udp", "kernel.image = \"k\"\nvm.ports = [\"53:53\", \"udp:53:53\"]\n",
			func(c *project.Config) bool { return len(c.VM.Ports) == 2 }},
		{"metrics url alone", "kernel.image = \"k\"\nmetrics.url = \"/metrics\"\n",
			func(c *project.Config) bool {
				return c.Metrics.URL == "/metrics" && c.Metrics.Series == nil && c.Metrics.Interval == time.Second
			}},
		{"health url alone", "kernel.image = \"k\"\nhealth = { url = \"http://[::1]:9000/ready\" }\n",
			func(c *project.Config) bool { return c.Health.URL == "http://[::1]:9000/ready" && c.Metrics.URL == "" }},
		{"metrics interval at the minimum", "kernel.image = \"k\"\n[metrics]\ninterval = \"100ms\"\n",
			func(c *project.Config) bool { return c.Metrics.Interval == 100*time.Millisecond }},
		{"backend defaults to qemu", "kernel.image = \"k\"\n",
			func(c *project.Config) bool { return c.VM.Backend == project.BackendQEMU && c.VM.LibvirtPool == "" }},
		{"libvirt backend defaults", "kernel.image = \"k\"\nvm.backend = \"libvirt\"\n",
			func(c *project.Config) bool {
				return c.VM.Backend == project.BackendLibvirt && c.VM.LibvirtURI == "" && c.VM.LibvirtPool == project.DefaultLibvirtPool
			}},
		{"libvirt uri implies the libvirt backend", "kernel.image = \"k\"\n[vm]\nlibvirt_uri = \"qemu+ssh://dev@kvm1:2222/system?keyfile=/k\"\nports = [\"8080:80\"]\n",
			func(c *project.Config) bool {
				return c.VM.Backend == project.BackendLibvirt && c.VM.LibvirtURI == "qemu+ssh://dev@kvm1:2222/system?keyfile=/k"
			}},
		{"libvirt pool and network", "kernel.image = \"k\"\n[vm]\nlibvirt_pool = \"images\"\nlibvirt_network = \"default\"\n",
			func(c *project.Config) bool {
				return c.VM.Backend == project.BackendLibvirt && c.VM.LibvirtPool == "images" && c.VM.LibvirtNetwork == "default"
			}},
		{"local libvirt session", "kernel.image = \"k\"\nvm.libvirt_uri = \"qemu:///session\"\n",
			func(c *project.Config) bool { return c.VM.LibvirtURI == "qemu:///session" }},
		{"same port on two addresses", "kernel.image = \"k\"\nvm.ports = [\"127.0.0.1:80:80\", \"127.0.0.2:80:80\"]\n",
			func(c *project.Config) bool { return len(c.VM.Ports) == 2 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := parseTest(t, tt.doc)
			if !tt.check(c) {
				t.Errorf("unexpected config %+v", c)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	const img = "kernel.image = \"k\"\n"
	tests := []projecttest.ErrorCase{
		{Name: "syntax: missing value", Doc: "name = \n", Line: 1, Col: 8, Key: "", Msg: "unexpected character U+000A at start of value"},
		{Name: "syntax: bad table header", Doc: img + "[vm\n", Line: 2, Col: 4, Key: "", Msg: "']'"},
		{Name: "syntax: unterminated string", Doc: img + "[vm]\nqemu = \"abc\n", Line: 3, Col: 12, Key: "", Msg: "basic strings cannot have new lines"},
		{Name: "duplicate key", Doc: img + "name = \"a\"\nname = \"b\"\n", Line: 3, Col: 1, Key: "name", Msg: "already defined"},
		{Name: "table defined twice", Doc: img + "[vm]\n[vm]\n", Line: 3, Col: 2, Key: "vm", Msg: "already"},
		{Name: "unknown top-level key", Doc: img + "nmae = \"x\"\n", Line: 2, Col: 1, Key: "nmae", Msg: "did you mean name?"},
		{Name: "unknown key in table", Doc: img + "[vm]\ncpus = 1\nmemroy = \"1G\"\n", Line: 4, Col: 1, Key: "vm.memroy", Msg: "did you mean memory?"},
		{Name: "unknown key without suggestion", Doc: img + "[logs]\nfoo = 1\n", Line: 3, Col: 1, Key: "logs.foo", Msg: "[logs] accepts: keep_boots, max_bytes"},
		{Name: "unknown section", Doc: img + "[vmm]\ncpus = 1\n", Line: 2, Col: 2, Key: "vmm", Msg: "unknown key"},
		{Name: "section not a table", Doc: img + "vm = 3\n", Line: 2, Col: 6, Key: "vm", Msg: "want a table"},
		{Name: "array of tables", Doc: img + "[[vm]]\n", Line: 2, Col: 3, Key: "vm", Msg: "want a table"},
		{Name: "name wrong type", Doc: img + "name = 1\n", Line: 2, Col: 8, Key: "name", Msg: "want a string, got an integer"},
		{Name: "name unsafe", Doc: img + "name = \"a/b\"\n", Line: 2, Col: 8, Key: "name", Msg: "use only letters"},
		{Name: "name empty", Doc: img + "name = \"\"\n", Line: 2, Col: 8, Key: "name", Msg: "want 1 to 64"},
		{Name: "flavor unsupported", Doc: "flavor = \"mirage\"\n" + img, Line: 1, Col: 10, Key: "flavor", Msg: `"mirage" is not supported; supported: elf, linux, nanos, unikraft`},
		{Name: "command wrong type", Doc: img + "build.command = [\"make\"]\n", Line: 2, Col: 17, Key: "build.command", Msg: "got an array"},
		{Name: "dir empty", Doc: img + "[build]\ndir = \"\"\n", Line: 3, Col: 7, Key: "build.dir", Msg: "empty path"},
		{Name: "env not a table", Doc: img + "build.env = \"A=1\"\n", Line: 2, Col: 13, Key: "build.env", Msg: "want a table"},
		{Name: "env value not a string", Doc: img + "[build]\nenv = { A = \"x\", B = 1 }\n", Line: 3, Col: 22, Key: "build.env.B", Msg: "got an integer"},
		{Name: "env value in dotted form", Doc: img + "[build]\nenv.\"X Y\" = true\n", Line: 3, Col: 13, Key: `build.env."X Y"`, Msg: "got a boolean"},
		{Name: "paths not an array", Doc: img + "watch.paths = \".\"\n", Line: 2, Col: 15, Key: "watch.paths", Msg: "want an array of strings"},
		{Name: "paths element", Doc: img + "[watch]\npaths = [\".\", 3]\n", Line: 3, Col: 15, Key: "watch.paths[1]", Msg: "got an integer"},
		{Name: "paths empty", Doc: img + "watch.paths = []\n", Line: 2, Col: 15, Key: "watch.paths", Msg: "at least one"},
		{Name: "ignore empty pattern", Doc: img + "watch.ignore = [\"*.o\", \" \"]\n", Line: 2, Col: 24, Key: "watch.ignore[1]", Msg: "empty pattern"},
		{Name: "bad duration", Doc: img + "[watch]\ndebounce = \"100\"\n", Line: 3, Col: 12, Key: "watch.debounce", Msg: `bad duration "100"`},
		{Name: "duration wrong type", Doc: img + "[watch]\ndebounce = 100\n", Line: 3, Col: 12, Key: "watch.debounce", Msg: "want a duration string"},
		{Name: "negative duration", Doc: img + "watch.max_wait = \"-1s\"\n", Line: 2, Col: 18, Key: "watch.max_wait", Msg: "negative"},
		{Name: "max_wait below debounce", Doc: img + "[watch]\ndebounce = \"3s\"\nmax_wait = \"1s\"\n", Line: 4, Col: 12, Key: "watch.max_wait", Msg: "shorter than debounce"},
		{Name: "bad settle", Doc: img + "[watch]\nsettle = \"8\"\n", Line: 3, Col: 10, Key: "watch.settle", Msg: `bad duration "8"`},
		{Name: "negative settle", Doc: img + "watch.settle = \"-8ms\"\n", Line: 2, Col: 16, Key: "watch.settle", Msg: "negative"},
		{Name: "settle above debounce", Doc: img + "[watch]\ndebounce = \"20ms\"\nsettle = \"30ms\"\n", Line: 4, Col: 10, Key: "watch.settle", Msg: "longer than debounce"},
		{Name: "settle above the default debounce", Doc: img + "watch.settle = \"1s\"\n", Line: 2, Col: 16, Key: "watch.settle", Msg: "settle (1s) is longer than debounce (100ms)"},
		{Name: "missing image, no kernel table", Doc: "build.command = \"make\"\n", Line: 1, Col: 1, Key: "kernel.image", Msg: "required"},
		{Name: "missing image, kernel table", Doc: "name = \"x\"\n\n[kernel]\ncmdline = \"q\"\n", Line: 3, Col: 2, Key: "kernel.image", Msg: "required"},
		{Name: "missing image, dotted kernel key", Doc: "name = \"x\"\nkernel.cmdline = \"q\"\n", Line: 2, Col: 1, Key: "kernel.image", Msg: "required"},
		{Name: "empty image", Doc: "[kernel]\nimage = \"\"\n", Line: 2, Col: 9, Key: "kernel.image", Msg: "required"},
		{Name: "image wrong type", Doc: "kernel.image = 5\n", Line: 1, Col: 16, Key: "kernel.image", Msg: "got an integer"},
		{Name: "qemu empty", Doc: img + "vm.qemu = \"\"\n", Line: 2, Col: 11, Key: "vm.qemu", Msg: "empty QEMU"},
		{Name: "memory bad unit", Doc: img + "[vm]\nmemory = \"12X\"\n", Line: 3, Col: 10, Key: "vm.memory", Msg: `bad size "12X"`},
		{Name: "memory too small", Doc: img + "vm.memory = \"512K\"\n", Line: 2, Col: 13, Key: "vm.memory", Msg: "not a whole number of MiB"},
		{Name: "memory zero", Doc: img + "vm.memory = 0\n", Line: 2, Col: 13, Key: "vm.memory", Msg: "minimum of 1 MiB"},
		{Name: "memory fractional", Doc: img + "vm.memory = \"1.5G\"\n", Line: 2, Col: 13, Key: "vm.memory", Msg: "unknown unit"},
		{Name: "memory wrong type", Doc: img + "vm.memory = true\n", Line: 2, Col: 13, Key: "vm.memory", Msg: "got a boolean"},
		{Name: "memory float", Doc: img + "vm.memory = 1.5\n", Line: 2, Col: 13, Key: "vm.memory", Msg: "got a float"},
		{Name: "memory too large", Doc: img + "vm.memory = \"2048T\"\n", Line: 2, Col: 13, Key: "vm.memory", Msg: "more than"},
		{Name: "cpus zero", Doc: img + "[vm]\ncpus = 0\n", Line: 3, Col: 8, Key: "vm.cpus", Msg: "0 is less than 1"},
		{Name: "cpus string", Doc: img + "[vm]\ncpus = \"2\"\n", Line: 3, Col: 8, Key: "vm.cpus", Msg: "want an integer, got a string"},
		{Name: "cpus huge", Doc: img + "vm.cpus = 99999999999999999999\n", Line: 2, Col: 11, Key: "vm.cpus", Msg: ""},
		{Name: "accel enum", Doc: img + "[vm]\naccel = \"hvf\"\n", Line: 3, Col: 9, Key: "vm.accel", Msg: `"hvf" is not one of auto, kvm, tcg`},
		{Name: "machine enum", Doc: img + "vm.machine = \"virt\"\n", Line: 2, Col: 14, Key: "vm.machine", Msg: "auto, microvm, pc, q35"},
		{Name: "bad port", Doc: img + "[vm]\nports = [\"8080:80\",\n  \"80\"]\n", Line: 4, Col: 3, Key: "vm.ports[1]", Msg: `bad port forward "80": want [proto:][addr:]hostport:guestport`},
		{Name: "port range", Doc: img + "vm.ports = [\"8000-8010:8000-8010\"]\n", Line: 2, Col: 13, Key: "vm.ports[0]", Msg: "ranges are not supported"},
		{Name: "port out of range", Doc: img + "vm.ports = [\"70000:80\"]\n", Line: 2, Col: 13, Key: "vm.ports[0]", Msg: "from 1 to 65535"},
		{Name: "port wrong type", Doc: img + "vm.ports = [8080]\n", Line: 2, Col: 13, Key: "vm.ports[0]", Msg: "got an integer"},
		{Name: "duplicate host port", Doc: img + "vm.ports = [\"8080:80\", \"127.0.0.1:8080:81\"]\n", Line: 2, Col: 24, Key: "vm.ports[1]", Msg: "already forwarded by vm.ports[0]"},
		{Name: "duplicate with wildcard", Doc: img + "vm.ports = [\"0.0.0.0:8080:80\", \"8080:81\"]\n", Line: 2, Col: 32, Key: "vm.ports[1]", Msg: "8080/tcp"},
		{Name: "ipv6 host address", Doc: img + "[vm]\nports = [\"8080:80\", \"[::1]:18094:80\"]\n", Line: 3, Col: 21, Key: "vm.ports[1]", Msg: `bad port forward "[::1]:18094:80": host address ::1 is IPv6`},
		{Name: "args element", Doc: img + "vm.args = [\"-s\", false]\n", Line: 2, Col: 18, Key: "vm.args[1]", Msg: "got a boolean"},
		{Name: "network wrong type", Doc: img + "vm.network = \"yes\"\n", Line: 2, Col: 14, Key: "vm.network", Msg: "want true or false"},
		{Name: "backend enum", Doc: img + "vm.backend = \"xen\"\n", Line: 2, Col: 14, Key: "vm.backend", Msg: `"xen" is not one of qemu, libvirt`},
		{Name: "libvirt key with qemu backend", Doc: img + "[vm]\nbackend = \"qemu\"\nlibvirt_uri = \"qemu:///system\"\n", Line: 4, Col: 15, Key: "vm.libvirt_uri", Msg: `not used with vm.backend "qemu"`},
		{Name: "libvirt uri of another driver", Doc: img + "vm.libvirt_uri = \"xen:///system\"\n", Line: 2, Col: 18, Key: "vm.libvirt_uri", Msg: "not of the QEMU driver"},
		{Name: "libvirt uri without host", Doc: img + "vm.libvirt_uri = \"qemu+ssh:///system\"\n", Line: 2, Col: 18, Key: "vm.libvirt_uri", Msg: "names no host"},
		{Name: "libvirt uri path", Doc: img + "vm.libvirt_uri = \"qemu+ssh://h/\"\n", Line: 2, Col: 18, Key: "vm.libvirt_uri", Msg: "want the path /system or /session"},
		{Name: "libvirt uri wrong type", Doc: img + "vm.libvirt_uri = 1\n", Line: 2, Col: 18, Key: "vm.libvirt_uri", Msg: "want a string"},
		{Name: "libvirt pool name", Doc: img + "vm.libvirt_pool = \"a/b\"\n", Line: 2, Col: 19, Key: "vm.libvirt_pool", Msg: "not a storage pool name"},
		{Name: "libvirt network with ports", Doc: img + "[vm]\nports = [\"8080:80\"]\nlibvirt_network = \"default\"\n", Line: 4, Col: 19, Key: "vm.libvirt_network", Msg: "cannot forward"},
		{Name: "keep_boots zero", Doc: img + "[logs]\nkeep_boots = 0\n", Line: 3, Col: 14, Key: "logs.keep_boots", Msg: "0 is less than 1"},
		{Name: "cpus too many", Doc: img + "vm.cpus = 1025\n", Line: 2, Col: 11, Key: "vm.cpus", Msg: "1025 is more than 1024"},
		{Name: "max_bytes bad", Doc: img + "[logs]\nmax_bytes = \"lots\"\n", Line: 3, Col: 13, Key: "logs.max_bytes", Msg: `bad size "lots"`},
		{Name: "max_bytes zero", Doc: img + "logs.max_bytes = 0\n", Line: 2, Col: 18, Key: "logs.max_bytes", Msg: "less than 1 byte"},
		{Name: "metrics url wrong type", Doc: img + "metrics.url = 8080\n", Line: 2, Col: 15, Key: "metrics.url", Msg: "want a string, got an integer"},
		{Name: "metrics url empty", Doc: img + "[metrics]\nurl = \"\"\n", Line: 3, Col: 7, Key: "metrics.url", Msg: "empty URL"},
		{Name: "metrics url relative", Doc: img + "[metrics]\nurl = \"metrics\"\n", Line: 3, Col: 7, Key: "metrics.url", Msg: `want a path on the first forwarded port ("/metrics")`},
		{Name: "metrics url bad port", Doc: img + "metrics.url = \":99999/metrics\"\n", Line: 2, Col: 15, Key: "metrics.url", Msg: `"99999" is not a port from 1 to 65535`},
		{Name: "metrics url remote", Doc: img + "metrics.url = \"http://10.0.2.15:8080/metrics\"\n", Line: 2, Col: 15, Key: "metrics.url", Msg: `host "10.0.2.15" is not on the loopback interface`},
		{Name: "metrics url with a user", Doc: img + "metrics.url = \"http://u:p@127.0.0.1/metrics\"\n", Line: 2, Col: 15, Key: "metrics.url", Msg: "no credentials"},
		{Name: "metrics url with a space", Doc: img + "metrics.url = \"/my metrics\"\n", Line: 2, Col: 15, Key: "metrics.url", Msg: "not a URL path"},
		{Name: "series not an array", Doc: img + "[metrics]\nurl = \"/m\"\nseries = \"go_goroutines\"\n", Line: 4, Col: 10, Key: "metrics.series", Msg: "want an array of strings"},
		{Name: "series element", Doc: img + "[metrics]\nurl = \"/m\"\nseries = [\"a\", 2]\n", Line: 4, Col: 16, Key: "metrics.series[1]", Msg: "got an integer"},
		{Name: "series empty name", Doc: img + "[metrics]\nurl = \"/m\"\nseries = [\" \"]\n", Line: 4, Col: 11, Key: "metrics.series[0]", Msg: "empty series name"},
		{Name: "series without url", Doc: img + "[metrics]\nseries = [\"a\"]\n", Line: 3, Col: 10, Key: "metrics.series", Msg: "no metrics.url"},
		{Name: "interval too short", Doc: img + "metrics.interval = \"10ms\"\n", Line: 2, Col: 20, Key: "metrics.interval", Msg: "10ms is shorter than 100ms"},
		{Name: "interval not a duration", Doc: img + "metrics.interval = 1\n", Line: 2, Col: 20, Key: "metrics.interval", Msg: "want a duration string"},
		{Name: "unknown metrics key", Doc: img + "[metrics]\nurls = \"/m\"\n", Line: 3, Col: 1, Key: "metrics.urls", Msg: "did you mean url?"},
		{Name: "unknown health key", Doc: img + "[health]\ninterval = \"1s\"\n", Line: 3, Col: 1, Key: "health.interval", Msg: "[health] accepts: url"},
		{Name: "health url bad", Doc: img + "[health]\nurl = \"ftp://127.0.0.1/x\"\n", Line: 3, Col: 7, Key: "health.url", Msg: "want a path"},
		{Name: "health not a table", Doc: img + "health = \"/healthz\"\n", Line: 2, Col: 10, Key: "health", Msg: "want a table"},
		{Name: "date value", Doc: img + "name = 1979-05-27\n", Line: 2, Col: 8, Key: "name", Msg: "got a date or time"},
	}
	projecttest.CheckErrors(t, tests)
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
		{"metrics and health in file order",
			"kernel.image = \"k\"\n[health]\nurl = \"x\"\n[metrics]\ninterval = \"1ms\"\nurl = \"y\"\n[logs]\nkeep_boots = 0\n",
			`ukdev.toml:3:7: health.url: want a path on the first forwarded port ("/metrics"), a forwarded host port and a path (":8080/metrics") or a loopback URL ("http://127.0.0.1:8080/metrics")`},
		{"a rule between metrics keys after the keys given",
			"kernel.image = \"k\"\n[metrics]\nseries = [\"a\"]\ninterval = \"1ms\"\n",
			`ukdev.toml:3:10: metrics.series: no metrics.url to scrape the series from`},
		{"value before an unknown key",
			"kernel.image = \"k\"\nvm.cpus = 0\nvm.bogus = 1\nnmae = \"x\"\n",
			`ukdev.toml:2:11: vm.cpus: 0 is less than 1`},
		{"unknown key before a value",
			"kernel.image = \"k\"\nvm.bogus = 1\nvm.cpus = 0\n",
			`ukdev.toml:2:1: vm.bogus: unknown key; [vm] accepts: qemu, memory, cpus, accel, machine, ports, args, network, backend, libvirt_uri, libvirt_pool, libvirt_network`},
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
