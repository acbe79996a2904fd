package devloop

import (
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/ukdev/ukdev/deploy"
	"github.com/ukdev/ukdev/vm"
)

// uploadEvery is the shortest time between two vm.upload events of one
// file, its first and last excepted.
const uploadEvery = 250 * time.Millisecond

// uploadReporter turns the transfers of a boot's image files to the VM
// host (vm.StartOptions.Progress) into vm.upload events: each file's
// first report, then at most one every uploadEvery, and its last. It is
// safe for concurrent use: a backend may report from its own goroutines.
type uploadReporter struct {
	boot, build int
	emit        func(Event)
	now         func() time.Time

	mu   sync.Mutex
	last map[string]time.Time // per file, when its last event went out
}

// newUploadReporter returns the reporter of boot n of build, emitting
// through emit.
func newUploadReporter(n, build int, emit func(Event)) *uploadReporter {
	return &uploadReporter{boot: n, build: build, emit: emit, now: time.Now, last: map[string]time.Time{}}
}

// progress is the vm.StartOptions.Progress of the boot.
func (r *uploadReporter) progress(t vm.Transfer) {
	now := r.now()
	r.mu.Lock()
	prev, seen := r.last[t.File]
	send := !seen || t.Done || now.Sub(prev) >= uploadEvery
	if send {
		r.last[t.File] = now
	}
	r.mu.Unlock()
	if send {
		r.emit(uploadEvent(r.boot, r.build, t, now))
	}
}

// uploadEvent is the vm.upload event of transfer t of boot n, at time now.
func uploadEvent(n, build int, t vm.Transfer, now time.Time) Event {
	e := Event{Time: now, Type: TypeVMUpload, Boot: n, Build: build, File: t.File,
		BytesDone: ptr(t.Sent), BytesTotal: ptr(t.Total), Skipped: t.Skipped, Finished: t.Done,
		ElapsedMS: ptr(ms(t.Elapsed))}
	name := filepath.Base(t.File)
	switch {
	case t.Err != nil:
		e.Detail = t.Err.Error()
		e.Message = fmt.Sprintf("upload of %s to the VM host failed after %s of %s: %v", name, deploy.Size(t.Sent), deploy.Size(t.Total), t.Err)
	case t.Skipped:
		e.Message = fmt.Sprintf("%s (%s): already on the VM host, not sent", name, deploy.Size(t.Total))
	case t.Done:
		e.Message = fmt.Sprintf("uploaded %s to the VM host: %s in %s", name, deploy.Size(t.Total), deploy.RoundElapsed(t.Elapsed))
	default:
		e.Message = fmt.Sprintf("uploading %s to the VM host: %s of %s (%d%%)", name, deploy.Size(t.Sent), deploy.Size(t.Total), t.Sent*100/max(t.Total, 1))
	}
	return e
}
