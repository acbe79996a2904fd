package nanos_test

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/ukdev/ukdev/flavor/nanos"
	"github.com/ukdev/ukdev/project"
	"github.com/ukdev/ukdev/project/projecttest"
)

func TestParseNanos(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, project.FileName)
	parse := func(t *testing.T, doc string) *project.Config {
		t.Helper()
		c, err := project.Parse(path, []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	t.Run("defaults without an ops config", func(t *testing.T) {
		c := parse(t, "flavor = \"nanos\"\nkernel.image = \"app\"\n")
		if got, want := nanos.SettingsOf(c), (nanos.Settings{Boot: "direct"}); got != want || c.Includes != nil {
			t.Errorf("settings %+v includes %q, want %+v and none", got, c.Includes, want)
		}
	})
	if err := os.WriteFile(filepath.Join(dir, nanos.OpsConfigName), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("the project's ops config", func(t *testing.T) {
		c := parse(t, "flavor = \"nanos\"\nkernel.image = \"app\"\n")
		ops := filepath.Join(dir, nanos.OpsConfigName)
		if got, want := nanos.SettingsOf(c), (nanos.Settings{Config: ops, Boot: "direct"}); got != want || !reflect.DeepEqual(c.Includes, []string{ops}) {
			t.Errorf("settings %+v includes %q, want %+v and the config", got, c.Includes, want)
		}
	})
	t.Run("every key", func(t *testing.T) {
		c := parse(t, "flavor = \"nanos\"\nkernel.image = \"app\"\n[nanos]\nconfig = \"ops/c.json\"\nkernel = \"/k/kernel.img\"\nversion = \"0.1.50\"\nboot = \"disk\"\n")
		want := nanos.Settings{Config: filepath.Join(dir, "ops/c.json"), Kernel: "/k/kernel.img", Version: "0.1.50", Boot: "disk"}
		if got := nanos.SettingsOf(c); got != want {
			t.Errorf("settings %+v, want %+v", got, want)
		}
	})
	t.Run("another flavor", func(t *testing.T) {
		if got := nanos.SettingsOf(parse(t, "kernel.image = \"k\"\n")); got != (nanos.Settings{}) {
			t.Errorf("settings of an elf project %+v", got)
		}
	})
}

func TestParseNanosErrors(t *testing.T) {
	const img = "kernel.image = \"k\"\n"
	tests := []struct {
		name      string
		doc       string
		line, col int
		key       string
		msg       string // a substring of Msg
	}{
		{"nanos initrd", "flavor = \"nanos\"\nkernel.image = \"app\"\nkernel.initrd = \"x\"\n", 3, 17, "kernel.initrd", `not used with flavor "nanos"`},
		{"nanos key with elf", img + "nanos.boot = \"disk\"\n", 2, 14, "nanos.boot", `only used with flavor = "nanos"`},
		{"nanos boot bad", "flavor = \"nanos\"\nkernel.image = \"app\"\nnanos.boot = \"usb\"\n", 3, 14, "nanos.boot", "usb"},
		{"nanos without program", "flavor = \"nanos\"\n", 1, 1, "kernel.image", "the path of the program"},
		{"unknown nanos key", "flavor = \"nanos\"\nkernel.image = \"app\"\n[nanos]\nbot = \"disk\"\n", 4, 1, "nanos.bot", "did you mean boot?"},
		{"config empty", "flavor = \"nanos\"\nkernel.image = \"app\"\nnanos.config = \"\"\n", 3, 16, "nanos.config", "empty path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { projecttest.CheckError(t, tt.doc, tt.line, tt.col, tt.key, tt.msg) })
	}
	// The keys a flavor does not use are refused in file order, every time.
	doc := "flavor = \"nanos\"\n[kernel]\nimage = \"app\"\nsymbols = \"s\"\ncmdline = \"c\"\ninitrd = \"i\"\n"
	want := `ukdev.toml:4:11: kernel.symbols: not used with flavor "nanos": the program itself is the symbol file`
	if got := projecttest.OneError(t, doc); got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}
