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
	c := projecttest.MustParse(t, root+"/"+project.FileName, []byte(doc))
	want := linux.Settings{Kernel: root + "/bz/bzImage", KernelVersion: "v1",
		Files: []linux.File{{Host: root + "/etc/motd", Guest: "/etc/motd"}, {Host: "/abs/x", Guest: "/x"}}}
	if got := linux.SettingsOf(c); !reflect.DeepEqual(got, want) {
		t.Errorf("settings %+v, want %+v", got, want)
	}
}

func TestParseLinuxErrors(t *testing.T) {
	const img = "kernel.image = \"k\"\n"
	tests := []projecttest.ErrorCase{
		{Name: "linux file without guest path", Doc: "flavor = \"linux\"\nkernel.image = \"app\"\nlinux.files = [\"motd\"]\n", Line: 3, Col: 16, Key: "linux.files[0]", Msg: "want \"host path:/guest/path\""},
		{Name: "linux file not a string", Doc: "flavor = \"linux\"\nkernel.image = \"app\"\nlinux.files = [\"a:/a\", 1]\n", Line: 3, Col: 24, Key: "linux.files[1]", Msg: "got an integer"},
		{Name: "linux symbols", Doc: "flavor = \"linux\"\nkernel.image = \"app\"\nkernel.symbols = \"x\"\n", Line: 3, Col: 18, Key: "kernel.symbols", Msg: `not used with flavor "linux"`},
		{Name: "linux key with elf", Doc: img + "linux.kernel_version = \"v1\"\n", Line: 2, Col: 24, Key: "linux.kernel_version", Msg: `only used with flavor = "linux"`},
		{Name: "linux without program", Doc: "flavor = \"linux\"\n", Line: 1, Col: 1, Key: "kernel.image", Msg: "run as /init"},
	}
	projecttest.CheckErrors(t, tests)
}
