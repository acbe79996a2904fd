package all_test

import (
	"testing"

	"github.com/ukdev/ukdev/project/projecttest"
)

// The sections of the other flavors are refused key by key, in file order,
// every time.
func TestParseFirstErrorInFileOrder(t *testing.T) {
	doc := "kernel.image = \"k\"\n[nanos]\nversion = \"1\"\nboot = \"disk\"\nkernel = \"k.img\"\nconfig = \"c.json\"\n[unikraft]\napp_args = \"a\"\ndebug = \"d\"\n"
	want := `ukdev.toml:3:11: nanos.version: only used with flavor = "nanos" (this project's flavor is "elf")`
	if got := projecttest.OneError(t, doc); got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}
