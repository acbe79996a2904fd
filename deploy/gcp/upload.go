package gcp

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"google.golang.org/api/googleapi"
	"google.golang.org/api/storage/v1"

	"github.com/ukdev/ukdev/deploy"
)

// imageAlign is the size Compute wants a raw disk's to be a multiple of.
const imageAlign = 1 << 30

// uploadChunk is the resumable upload's chunk: the tarball goes in
// requests of this size, a failed one resumed.
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
// disk.raw in a gzip'd tar to the bucket's object, reporting the disk
// bytes written. It is a resumable upload in chunks of chunk bytes (one
// request when the tarball fits in one chunk), made with the condition
// that the object does not exist: the object is only created when the
// upload completes, and it is never replaced.
func upload(ctx context.Context, svc *storage.Service, bucket, object, disk string, align int64, chunk int, report func(deploy.Step)) error {
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

	// The tarball is made as the upload reads it: a failure to make it
	// fails the upload, and a failed upload stops the making.
	pr, pw := io.Pipe()
	made := make(chan struct{})
	go func() {
		defer close(made)
		pw.CloseWithError(writeTarball(pw, f, fi, size, report))
	}()
	call := svc.Objects.Insert(bucket, &storage.Object{Name: object, ContentType: "application/gzip"}).
		Name(object).
		IfGenerationMatch(0).
		Media(pr, googleapi.ChunkSize(chunk)).
		Context(ctx)
	_, err = call.Do()
	pr.CloseWithError(errUploadEnded)
	<-made
	if err != nil {
		return err
	}
	report(deploy.Step{Name: stepUpload, Done: size, Total: size, Finished: true})
	return nil
}

// errUploadEnded stops the making of a tarball whose upload is over.
var errUploadEnded = errors.New("upload ended")

// writeTarball writes f, padded with zeros to size, as disk.raw in a
// gzip'd tar to w, reporting the disk bytes written.
func writeTarball(w io.Writer, f *os.File, fi os.FileInfo, size int64, report func(deploy.Step)) error {
	zw := gzip.NewWriter(w)
	tw := tar.NewWriter(zw)
	hdr := &tar.Header{Name: "disk.raw", Mode: 0o644, Size: size, ModTime: fi.ModTime(), Format: tar.FormatGNU}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	pr := &progress{total: size, report: report}
	src := io.MultiReader(f, io.LimitReader(zeros{}, size-fi.Size()))
	if n, err := io.Copy(tw, io.TeeReader(src, pr)); err != nil {
		return err
	} else if n != size {
		return fmt.Errorf("%s changed size while being read", f.Name())
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return zw.Close()
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
