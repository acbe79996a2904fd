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
		return projecttest.MustParse(t, path, []byte(doc))
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
	tests := []projecttest.ErrorCase{
		{Name: "nanos initrd", Doc: "flavor = \"nanos\"\nkernel.image = \"app\"\nkernel.initrd = \"x\"\n", Line: 3, Col: 17, Key: "kernel.initrd", Msg: `not used with flavor "nanos"`},
		{Name: "nanos key with elf", Doc: img + "nanos.boot = \"disk\"\n", Line: 2, Col: 14, Key: "nanos.boot", Msg: `only used with flavor = "nanos"`},
		{Name: "nanos boot bad", Doc: "flavor = \"nanos\"\nkernel.image = \"app\"\nnanos.boot = \"usb\"\n", Line: 3, Col: 14, Key: "nanos.boot", Msg: "usb"},
		{Name: "nanos without program", Doc: "flavor = \"nanos\"\n", Line: 1, Col: 1, Key: "kernel.image", Msg: "the path of the program"},
		{Name: "unknown nanos key", Doc: "flavor = \"nanos\"\nkernel.image = \"app\"\n[nanos]\nbot = \"disk\"\n", Line: 4, Col: 1, Key: "nanos.bot", Msg: "did you mean boot?"},
		{Name: "config empty", Doc: "flavor = \"nanos\"\nkernel.image = \"app\"\nnanos.config = \"\"\n", Line: 3, Col: 16, Key: "nanos.config", Msg: "empty path"},
	}
	projecttest.CheckErrors(t, tests)
	// The keys a flavor does not use are refused in file order, every time.
	doc := "flavor = \"nanos\"\n[kernel]\nimage = \"app\"\nsymbols = \"s\"\ncmdline = \"c\"\ninitrd = \"i\"\n"
	want := `ukdev.toml:4:11: kernel.symbols: not used with flavor "nanos": the program itself is the symbol file`
	if got := projecttest.OneError(t, doc); got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}
