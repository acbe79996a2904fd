package gcp

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"

	"cloud.google.com/go/storage"
	"github.com/ukdev/ukdev/deploy"
)

// imageAlign is the size Compute wants a raw disk's to be a multiple of.
const imageAlign = 1 << 30

// uploadChunk is the resumable upload's chunk: the storage SDK sends the
// tarball in requests of this size, resuming a failed one.
const uploadChunk = 16 << 20

// progressEvery is how many disk bytes pass between two progress reports.
const progressEvery = 4 << 20

// stepUpload names the upload step.
const stepUpload = "upload disk"

// alignUp rounds n up to a multiple of align.
func alignUp(n, align int64) int64 {
	return (n + align - 1) / align * align
}

// upload writes the disk, padded with zeros to a multiple of align, as
// disk.raw in a gzip'd tar to the object, reporting the disk bytes
// written. The object is only created when the upload completes; it is
// never replaced.
func upload(ctx context.Context, obj *storage.ObjectHandle, disk string, align int64, chunk int, report func(deploy.Step)) error {
	f, err := os.Open(disk)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := alignUp(fi.Size(), align)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := obj.If(storage.Conditions{DoesNotExist: true}).NewWriter(ctx)
	w.ContentType = "application/gzip"
	w.ChunkSize = chunk
	// Abandon the upload on failure: cancelling the writer's context is
	// the storage SDK's way; Close then reports the cause.
	fail := func(err error) error {
		cancel()
		_ = w.Close()
		return err
	}

	zw := gzip.NewWriter(w)
	tw := tar.NewWriter(zw)
	hdr := &tar.Header{Name: "disk.raw", Mode: 0o644, Size: size, ModTime: fi.ModTime(), Format: tar.FormatGNU}
	if err := tw.WriteHeader(hdr); err != nil {
		return fail(err)
	}
	pr := &progress{total: size, report: report}
	src := io.MultiReader(f, io.LimitReader(zeros{}, size-fi.Size()))
	if n, err := io.Copy(tw, io.TeeReader(src, pr)); err != nil {
		return fail(err)
	} else if n != size {
		return fail(fmt.Errorf("%s changed size while being read", disk))
	}
	if err := tw.Close(); err != nil {
		return fail(err)
	}
	if err := zw.Close(); err != nil {
		return fail(err)
	}
	if err := w.Close(); err != nil {
		return err
	}
	report(deploy.Step{Name: stepUpload, Done: size, Total: size, Finished: true})
	return nil
}

// progress counts the bytes written through it and reports them every
// progressEvery bytes.
type progress struct {
	done, total, last int64
	report            func(deploy.Step)
}

// Write counts p.
func (p *progress) Write(b []byte) (int, error) {
	p.done += int64(len(b))
	if p.done-p.last >= progressEvery || p.done == p.total {
		p.last = p.done
		p.report(deploy.Step{Name: stepUpload, Done: p.done, Total: p.total})
	}
	return len(b), nil
}

// zeros reads as an endless run of zero bytes.
type zeros struct{}

// Read fills b with zeros.
func (zeros) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}
