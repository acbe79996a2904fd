package unikraft_test

import (
	"testing"

	"github.com/ukdev/ukdev/flavor/unikraft"
	"github.com/ukdev/ukdev/project"
	"github.com/ukdev/ukdev/project/projecttest"
)

func TestParseUnikraft(t *testing.T) {
	doc := "flavor = \"unikraft\"\n[kernel]\ninitrd = \"i\"\nsymbols = \"s\"\ncmdline = \"c\"\n[unikraft]\nkernel_args = \"vfs.fstab=x\"\napp_args = \"-v\"\ndebug = \"app.dbg\"\n"
	c, err := project.Parse(root+"/"+project.FileName, []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := unikraft.Settings{KernelArgs: "vfs.fstab=x", AppArgs: "-v", Debug: root + "/app.dbg"}
	if got := unikraft.SettingsOf(c); got != want || c.Kernel.Image != "" {
		t.Errorf("settings %+v image %q, want %+v and no image", got, c.Kernel.Image, want)
	}
}

func TestParseUnikraftErrors(t *testing.T) {
	tests := []struct {
		name      string
		doc       string
		line, col int
		key       string
		msg       string // a substring of Msg
	}{
		{"app_args not a string", "flavor = \"unikraft\"\nunikraft.app_args = [\"-v\"]\n", 2, 21, "unikraft.app_args", "want a string"},
		{"debug empty is the default", "flavor = \"unikraft\"\nunikraft.debug = \"\"\nvm.cpus = 0\n", 3, 11, "vm.cpus", "0 is less than 1"},
		{"unikraft key with nanos", "flavor = \"nanos\"\nkernel.image = \"app\"\nunikraft.debug = \"d\"\n", 3, 18, "unikraft.debug", `only used with flavor = "unikraft"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { projecttest.CheckError(t, tt.doc, tt.line, tt.col, tt.key, tt.msg) })
	}
}
