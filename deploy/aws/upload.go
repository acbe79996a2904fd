package aws

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	awsv2 "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ebs"
	ebstypes "github.com/aws/aws-sdk-go-v2/service/ebs/types"

	"github.com/ukdev/ukdev/deploy"
)

// BlockSize is the EBS direct APIs' block size: every block written is
// exactly this long.
const BlockSize = 512 << 10

// gib is a gibibyte, the unit of EBS volume sizes.
const gib = 1 << 30

// volumeGiB is the size in GiB of the smallest volume that holds size
// bytes.
func volumeGiB(size int64) int64 {
	return max(1, (size+gib-1)/gib)
}

// snapshotTimeout is how long, in minutes, a started snapshot may stay
// pending before EBS gives it up: one abandoned by a crash does not stay.
const snapshotTimeout = 60

// stepUpload is the name of the upload step.
const stepUpload = "upload disk"

// upload writes the disk at path, size bytes long, into a new EBS
// snapshot with tags, and returns its id once CompleteSnapshot accepted
// it. Blocks of zeros are not written: a new snapshot reads as zeros.
// Blocks go up in parallel, each with its SHA256 checksum; report gets
// the bytes read so far. started is called with the snapshot's id as soon
// as it exists, so that the caller can delete it whatever happens next.
func (d *Deployer) upload(ctx context.Context, c *ebs.Client, path string, size int64, tags []ebstypes.Tag, started func(string), report func(deploy.Step)) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("aws: upload disk: %w", err)
	}
	defer f.Close()
	out, err := c.StartSnapshot(ctx, &ebs.StartSnapshotInput{
		VolumeSize:  awsv2.Int64(volumeGiB(size)),
		Tags:        tags,
		Description: awsv2.String("ukdev disk"),
		Timeout:     awsv2.Int32(snapshotTimeout),
	})
	if err != nil {
		return "", d.wrap("start snapshot", err)
	}
	id := awsv2.ToString(out.SnapshotId)
	started(id)
	if bs := awsv2.ToInt32(out.BlockSize); bs != 0 && bs != BlockSize {
		return "", fmt.Errorf("aws: start snapshot: block size %d, want %d", bs, BlockSize)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	blocks := (size + BlockSize - 1) / BlockSize
	next := make(chan int64)
	var (
		mu       sync.Mutex
		done     int64
		changed  int32
		firstErr error
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
		cancel()
	}
	progress := func(n int64, put bool) {
		mu.Lock()
		defer mu.Unlock()
		done += n
		if put {
			changed++
		}
		report(deploy.Step{Name: stepUpload, Done: done, Total: size})
	}
	var wg sync.WaitGroup
	for range min(int64(d.workers), max(blocks, 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, BlockSize)
			for i := range next {
				n, put, err := d.putBlock(ctx, c, f, id, i, size, buf)
				if err != nil {
					fail(err)
					return
				}
				progress(n, put)
			}
		}()
	}
feed:
	for i := range blocks {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = fmt.Errorf("aws: upload disk: %w", ctx.Err())
	}
	if firstErr != nil {
		return "", firstErr
	}
	if _, err := c.CompleteSnapshot(ctx, &ebs.CompleteSnapshotInput{
		SnapshotId:         awsv2.String(id),
		ChangedBlocksCount: awsv2.Int32(changed),
	}); err != nil {
		return "", d.wrap("complete snapshot", err)
	}
	report(deploy.Step{Name: stepUpload, Done: size, Total: size, Finished: true})
	return id, nil
}

// putBlock writes block i of f into snapshot id unless it is all zeros;
// the last block is padded with zeros. It returns the bytes of the disk
// the block covers and whether it was written.
func (d *Deployer) putBlock(ctx context.Context, c *ebs.Client, f io.ReaderAt, id string, i, size int64, buf []byte) (int64, bool, error) {
	off := i * BlockSize
	n := min(BlockSize, size-off)
	clear(buf)
	if _, err := f.ReadAt(buf[:n], off); err != nil && !errors.Is(err, io.EOF) {
		return 0, false, fmt.Errorf("aws: upload disk: %w", err)
	}
	if allZero(buf) {
		return n, false, nil
	}
	sum := sha256.Sum256(buf)
	_, err := c.PutSnapshotBlock(ctx, &ebs.PutSnapshotBlockInput{
		SnapshotId:        awsv2.String(id),
		BlockIndex:        awsv2.Int32(int32(i)),
		BlockData:         bytes.NewReader(buf),
		DataLength:        awsv2.Int32(BlockSize),
		Checksum:          awsv2.String(base64.StdEncoding.EncodeToString(sum[:])),
		ChecksumAlgorithm: ebstypes.ChecksumAlgorithmChecksumAlgorithmSha256,
	})
	if err != nil {
		if ctx.Err() != nil {
			return 0, false, fmt.Errorf("aws: upload disk: %w", ctx.Err())
		}
		return 0, false, d.wrap(fmt.Sprintf("put snapshot block %d", i), err)
	}
	return n, true, nil
}

// allZero says whether b holds only zeros.
func allZero(b []byte) bool {
	for len(b) >= 8 {
		if b[0]|b[1]|b[2]|b[3]|b[4]|b[5]|b[6]|b[7] != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
