package nanos

import (
	"testing"

	"github.com/ukdev/ukdev/image"
	"github.com/ukdev/ukdev/image/imagetest"
)

// A program that is not a regular file is refused at once, with a reason,
// as image's store refuses it.
func TestSpecialProgramRefused(t *testing.T) {
	imagetest.RefusesSpecialFiles(t, image.ErrNotRegular, []imagetest.Op{
		{Name: "nanos program", Run: func(_, k string) error { return checkProgram(k) }},
	})
}
