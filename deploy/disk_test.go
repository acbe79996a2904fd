package deploy_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ukdev/ukdev/deploy"
	"github.com/ukdev/ukdev/image"
)

// diskWriter writes a disk of size bytes, or fails with err.
type diskWriter struct {
	size int64
	err  error
}

func (w diskWriter) WriteDisk(_ context.Context, _ image.Image, path string, opts image.DiskOptions) (image.Disk, error) {
	if w.err != nil {
		return image.Disk{}, w.err
	}
	size := max(w.size, opts.MinSize)
	if opts.Progress != nil {
		opts.Progress(w.size, w.size)
	}
	f, err := os.Create(path)
	if err != nil {
		return image.Disk{}, err
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return image.Disk{}, err
	}
	return image.Disk{Path: path, Size: size}, nil
}

// TestMakeDisk: the disk comes in whole GiB and only once it boots; a
// failed write or boot test leaves no disk.
func TestMakeDisk(t *testing.T) {
	errWrite, errBoot := errors.New("fake: write"), errors.New("fake: no first line")
	tests := []struct {
		name     string
		size     int64
		writeErr error
		bootErr  error
		wantSize int64
		wantErr  error
		wantStep []string
	}{
		{name: "small", size: 40 << 20, wantSize: deploy.GiB,
			wantStep: []string{"write disk", "write disk done", "boot test", "boot test done"}},
		{name: "over a GiB", size: deploy.GiB + 1, wantSize: 2 * deploy.GiB,
			wantStep: []string{"write disk", "write disk done", "boot test", "boot test done"}},
		{name: "write fails", writeErr: errWrite, wantErr: errWrite},
		{name: "boot test fails", size: 1 << 20, bootErr: errBoot, wantErr: errBoot,
			wantStep: []string{"write disk", "write disk done", "boot test"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "p.raw")
			var steps []string
			report := func(s deploy.Step) {
				name := s.Name
				if s.Finished {
					name += " done"
				}
				steps = append(steps, name)
			}
			booted := ""
			bootTest := func(_ context.Context, d image.Disk) error { booted = d.Path; return tt.bootErr }
			got, size, err := deploy.MakeDisk(t.Context(), diskWriter{size: tt.size, err: tt.writeErr}, image.Image{Build: 3}, path, bootTest, report)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if !slices.Equal(steps, tt.wantStep) {
				t.Errorf("steps %q, want %q", steps, tt.wantStep)
			}
			if tt.wantErr != nil {
				if _, err := os.Stat(path); !os.IsNotExist(err) {
					t.Errorf("a failed disk is left at %s (%v)", path, err)
				}
				return
			}
			st, err := os.Stat(path)
			if err != nil || got != path || size != tt.wantSize || st.Size() != tt.wantSize || booted != path {
				t.Errorf("MakeDisk = %q, %d (file %v, %v; booted %q); want %q, %d", got, size, st, err, booted, path, tt.wantSize)
			}
		})
	}
}
