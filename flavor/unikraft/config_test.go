package unikraft_test

import (
	"testing"

	"github.com/ukdev/ukdev/flavor/unikraft"
	"github.com/ukdev/ukdev/project"
	"github.com/ukdev/ukdev/project/projecttest"
)

func TestParseUnikraft(t *testing.T) {
	doc := "flavor = \"unikraft\"\n[kernel]\ninitrd = \"i\"\nsymbols = \"s\"\ncmdline = \"c\"\n[unikraft]\nkernel_args = \"vfs.fstab=x\"\napp_args = \"-v\"\ndebug = \"app.dbg\"\n"
	c := projecttest.MustParse(t, root+"/"+project.FileName, []byte(doc))
	want := unikraft.Settings{KernelArgs: "vfs.fstab=x", AppArgs: "-v", Debug: root + "/app.dbg"}
	if got := unikraft.SettingsOf(c); got != want || c.Kernel.Image != "" {
		t.Errorf("settings %+v image %q, want %+v and no image", got, c.Kernel.Image, want)
	}
}

func TestParseUnikraftErrors(t *testing.T) {
	tests := []projecttest.ErrorCase{
		{Name: "app_args not a string", Doc: "flavor = \"unikraft\"\nunikraft.app_args = [\"-v\"]\n", Line: 2, Col: 21, Key: "unikraft.app_args", Msg: "want a string"},
		{Name: "debug empty is the default", Doc: "flavor = \"unikraft\"\nunikraft.debug = \"\"\nvm.cpus = 0\n", Line: 3, Col: 11, Key: "vm.cpus", Msg: "0 is less than 1"},
		{Name: "unikraft key with nanos", Doc: "flavor = \"nanos\"\nkernel.image = \"app\"\nunikraft.debug = \"d\"\n", Line: 3, Col: 18, Key: "unikraft.debug", Msg: `only used with flavor = "unikraft"`},
	}
	projecttest.CheckErrors(t, tests)
}
