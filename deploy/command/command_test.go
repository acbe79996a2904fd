package command_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ukdev/ukdev/deploy"
	"github.com/ukdev/ukdev/deploy/command"
	"github.com/ukdev/ukdev/deploy/deploytest"
	_ "github.com/ukdev/ukdev/flavor/all"
	"github.com/ukdev/ukdev/project"
	"github.com/ukdev/ukdev/project/projecttest"
)

const img = "kernel.image = \"k\"\n"

// open opens the deploy of a ukdev.toml in root holding section.
func open(t *testing.T, root, section string) deploy.Deployer {
	t.Helper()
	return deploytest.Open(t, root, img+section, "")
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want command.Settings
	}{
		{"defaults", "[deploy.x]\ntarget = \"command\"\ncommand = \"./d.sh\"\n",
			command.Settings{Command: "./d.sh", Disk: true, Root: "/p"}},
		{"all keys", "[deploy.x]\ntarget = \"command\"\ncommand = \"./d.sh\"\ndisk = false\nlist = \"./l.sh\"\ndestroy = \"./r.sh\"\n",
			command.Settings{Command: "./d.sh", List: "./l.sh", Destroy: "./r.sh", Root: "/p"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := project.Parse("/p/ukdev.toml", []byte(img+tt.doc))
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Deploys["x"].Settings; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("settings %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name      string
		doc       string
		line, col int
		key, msg  string
	}{
		{"no command", "[deploy.x]\ntarget = \"command\"\n", 2, 9, "deploy.x.command", "required: the script that deploys"},
		{"empty command", "[deploy.x]\ntarget = \"command\"\ncommand = \" \"\n", 4, 11, "deploy.x.command", "required"},
		{"command not a string", "[deploy.x]\ntarget = \"command\"\ncommand = [\"a\"]\n", 4, 11, "deploy.x.command", "want a string"},
		{"disk not a boolean", "[deploy.x]\ntarget = \"command\"\ncommand = \"a\"\ndisk = \"no\"\n", 5, 8, "deploy.x.disk", "want true or false"},
		{"misspelt key", "[deploy.x]\ntarget = \"command\"\ncomand = \"a\"\n", 4, 1, "deploy.x.comand", "did you mean command?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			projecttest.CheckError(t, img+tt.doc, tt.line, tt.col, tt.key, tt.msg)
		})
	}
}

// The example `ukdev init` writes is a working command deploy once
// uncommented.
func TestInitExample(t *testing.T) {
	var doc strings.Builder
	for _, l := range project.DeployExample() {
		if !strings.HasPrefix(l, "#") || strings.HasPrefix(l, "# ") {
			t.Errorf("example line %q does not start with # and no space", l)
		}
		doc.WriteString(strings.TrimPrefix(l, "#") + "\n")
	}
	c, err := project.Parse("/p/ukdev.toml", []byte(img+doc.String()))
	if err != nil {
		t.Fatalf("%v\n%s", err, doc.String())
	}
	d, err := c.DeployNamed("")
	if err != nil || d.Target != command.Name || d.Settings.(command.Settings).Command != "./deploy.sh" {
		t.Errorf("example deploy %+v, %v", d, err)
	}
}

func request(root string) deploy.Request {
	return deploy.Request{
		Project: "hello", Name: "x", Build: 7, BuildOK: true, Flavor: "elf",
		Disk: "/tmp/d.raw", DiskSize: 1 << 20, Kernel: "/run/k.elf", Initrd: "/run/i.cpio", Cmdline: "console=ttyS0",
		Ports: []project.Port{{Proto: "tcp", HostPort: 8080, GuestPort: 80}, {Proto: "udp", HostPort: 5353, GuestPort: 53}},
		Root:  root, Program: root + "/k.elf",
	}
}

func TestDeploy(t *testing.T) {
	root := t.TempDir()
	script := `echo "disk=$UKDEV_DISK size=$UKDEV_DISK_SIZE kernel=$UKDEV_KERNEL initrd=$UKDEV_INITRD"
echo "cmdline=$UKDEV_CMDLINE project=$UKDEV_PROJECT deploy=$UKDEV_DEPLOY build=$UKDEV_BUILD flavor=$UKDEV_FLAVOR"
echo "ports=$UKDEV_PORTS program=$UKDEV_PROGRAM root=$UKDEV_ROOT pwd=$(pwd)" >&2
printf 'instance=vm-7\nip=203.0.113.9\nurl=http://203.0.113.9/\nurl=udp://203.0.113.9:53\n' > "$UKDEV_RESULT"
`
	if err := os.WriteFile(filepath.Join(root, "deploy.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	dep := open(t, root, "[deploy.x]\ntarget = \"command\"\ncommand = \"./deploy.sh\"\n")
	var steps []deploy.Step
	res, err := dep.Deploy(context.Background(), request(root), func(s deploy.Step) { steps = append(steps, s) })
	if err != nil {
		t.Fatal(err)
	}
	want := deploy.Result{Instance: "vm-7", ExternalIP: "203.0.113.9", URLs: []string{"http://203.0.113.9/", "udp://203.0.113.9:53"}}
	if !reflect.DeepEqual(res, want) {
		t.Errorf("result %+v, want %+v", res, want)
	}
	var msgs []string
	for _, s := range steps {
		if s.Name != "./deploy.sh" {
			t.Errorf("step %+v", s)
		}
		if s.Message != "" {
			msgs = append(msgs, s.Message)
		}
	}
	wantMsgs := []string{
		"disk=/tmp/d.raw size=1048576 kernel=/run/k.elf initrd=/run/i.cpio",
		"cmdline=console=ttyS0 project=hello deploy=x build=7 flavor=elf",
		"ports=80/tcp 53/udp program=" + root + "/k.elf root=" + root + " pwd=" + root,
	}
	for _, m := range wantMsgs {
		if !slices.Contains(msgs, m) {
			t.Errorf("no output line %q in %q", m, msgs)
		}
	}
	if !steps[len(steps)-1].Finished || steps[0].Finished {
		t.Errorf("steps do not begin and end: %+v", steps)
	}
}

func TestDeployFails(t *testing.T) {
	tests := []struct {
		name   string
		script string
		check  func(error) bool
	}{
		{"exit status", "echo nope >&2; exit 4", func(err error) bool {
			var ee *exec.ExitError
			return errors.As(err, &ee) && ee.ExitCode() == 4
		}},
		{"bad result file", "echo 'who=me' > \"$UKDEV_RESULT\"", func(err error) bool { return err != nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			dep := open(t, root, "[deploy.x]\ntarget = \"command\"\ncommand = "+project.TOMLString(tt.script)+"\n")
			_, err := dep.Deploy(context.Background(), request(root), func(deploy.Step) {})
			if !tt.check(err) {
				t.Errorf("Deploy = %v", err)
			}
		})
	}
}

func TestDeployCancel(t *testing.T) {
	root := t.TempDir()
	dep := open(t, root, "[deploy.x]\ntarget = \"command\"\ncommand = \"echo up; sleep 60\"\n")
	deploytest.Cancel(t, dep, request(root), func(s deploy.Step) bool { return s.Message == "up" }, 20*time.Second)
}

func TestListAndDestroy(t *testing.T) {
	root := t.TempDir()
	dep := open(t, root, "[deploy.x]\ntarget = \"command\"\ncommand = \"true\"\nlist = \"printf 'vm-6 stopped\\\\n\\\\nvm-7 running 203.0.113.9\\\\n'; echo $UKDEV_PROJECT >&2\"\ndestroy = \"echo removing $UKDEV_PROJECT\"\n")
	list, err := dep.List(context.Background(), "hello")
	if err != nil {
		t.Fatal(err)
	}
	want := []deploy.Instance{{ID: "vm-6", Name: "vm-6", State: "stopped"}, {ID: "vm-7", Name: "vm-7", State: "running", ExternalIP: "203.0.113.9"}}
	if !reflect.DeepEqual(list, want) {
		t.Errorf("List = %+v, want %+v", list, want)
	}
	var msgs []string
	if err := dep.Destroy(context.Background(), "hello", func(s deploy.Step) {
		if s.Message != "" {
			msgs = append(msgs, s.Message)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(msgs, []string{"removing hello"}) {
		t.Errorf("Destroy said %q", msgs)
	}

	bare := open(t, root, "[deploy.x]\ntarget = \"command\"\ncommand = \"true\"\n")
	if _, err := bare.List(context.Background(), "hello"); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("List without a list script = %v", err)
	}
	if err := bare.Destroy(context.Background(), "hello", func(deploy.Step) {}); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Destroy without a destroy script = %v", err)
	}
}

func TestNeedsDisk(t *testing.T) {
	for _, tt := range []struct {
		section string
		want    bool
	}{
		{"command = \"true\"\n", true},
		{"command = \"true\"\ndisk = false\n", false},
	} {
		dep := open(t, t.TempDir(), "[deploy.x]\ntarget = \"command\"\n"+tt.section)
		if got := dep.(deploy.DiskNeeder).NeedsDisk(); got != tt.want {
			t.Errorf("%q: NeedsDisk = %v", tt.section, got)
		}
	}
}
