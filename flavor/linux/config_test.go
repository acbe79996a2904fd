package linux_test

import (
	"reflect"
	"testing"

	"github.com/ukdev/ukdev/flavor/linux"
	"github.com/ukdev/ukdev/project"
	"github.com/ukdev/ukdev/project/projecttest"
)

func TestParseLinux(t *testing.T) {
	doc := "flavor = \"linux\"\nkernel.image = \"app\"\n[linux]\nkernel = \"bz/bzImage\"\nkernel_version = \"v1\"\nfiles = [\"etc/motd:/etc/motd\", \"/abs/x:/x\"]\n"
	c, err := project.Parse(root+"/"+project.FileName, []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := linux.Settings{Kernel: root + "/bz/bzImage", KernelVersion: "v1",
		Files: []linux.File{{Host: root + "/etc/motd", Guest: "/etc/motd"}, {Host: "/abs/x", Guest: "/x"}}}
	if got := linux.SettingsOf(c); !reflect.DeepEqual(got, want) {
		t.Errorf("settings %+v, want %+v", got, want)
	}
}

func TestParseLinuxErrors(t *testing.T) {
	const img = "kernel.image = \"k\"\n"
	tests := []struct {
		name      string
		doc       string
		line, col int
		key       string
		msg       string // a substring of Msg
	}{
		{"linux file without guest path", "flavor = \"linux\"\nkernel.image = \"app\"\nlinux.files = [\"motd\"]\n", 3, 16, "linux.files[0]", "want \"host path:/guest/path\""},
		{"linux file not a string", "flavor = \"linux\"\nkernel.image = \"app\"\nlinux.files = [\"a:/a\", 1]\n", 3, 24, "linux.files[1]", "got an integer"},
		{"linux symbols", "flavor = \"linux\"\nkernel.image = \"app\"\nkernel.symbols = \"x\"\n", 3, 18, "kernel.symbols", `not used with flavor "linux"`},
		{"linux key with elf", img + "linux.kernel_version = \"v1\"\n", 2, 24, "linux.kernel_version", `only used with flavor = "linux"`},
		{"linux without program", "flavor = \"linux\"\n", 1, 1, "kernel.image", "run as /init"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { projecttest.CheckError(t, tt.doc, tt.line, tt.col, tt.key, tt.msg) })
	}
}
