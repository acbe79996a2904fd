package elf

import (
	"path/filepath"
	"testing"

	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/image/imagetest"
)

// A build output that is not a regular file is refused at once, with a
// reason, as image's store refuses it.
func TestSpecialKernelImageRefused(t *testing.T) {
	imagetest.RefusesSpecialFiles(t, image.ErrNotRegular, []imagetest.Op{
		{Name: "elf prepare", Run: func(dir, k string) error {
			s := &image.Store{Dir: filepath.Join(dir, "images"), Keep: 2}
			_, err := Kernel{}.Prepare(t.Context(), s, 1, image.Artifacts{Kernel: k})
			return err
		}},
	})
}
