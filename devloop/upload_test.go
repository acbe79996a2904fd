package devloop

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ukdev/ukdev/vm"
)

// TestUploadReporter checks the throttling of vm.upload events: each
// file's first report and its last always go out, the others at most one
// per uploadEvery per file.
func TestUploadReporter(t *testing.T) {
	type report struct {
		at time.Duration // since the start
		t  vm.Transfer
	}
	kernel, initrd := "/img/vmlinuz", "/img/initrd.cpio"
	tests := []struct {
		name    string
		reports []report
		want    []int64 // Sent of the events emitted, in order
	}{
		{
			name: "first, throttled, last",
			reports: []report{
				{0, vm.Transfer{File: kernel, Total: 100}},
				{50 * time.Millisecond, vm.Transfer{File: kernel, Sent: 10, Total: 100}},
				{200 * time.Millisecond, vm.Transfer{File: kernel, Sent: 20, Total: 100}},
				{250 * time.Millisecond, vm.Transfer{File: kernel, Sent: 30, Total: 100}},
				{300 * time.Millisecond, vm.Transfer{File: kernel, Sent: 40, Total: 100}},
				{310 * time.Millisecond, vm.Transfer{File: kernel, Sent: 100, Total: 100, Done: true}},
			},
			want: []int64{0, 30, 100},
		},
		{
			name: "each file has its own first report",
			reports: []report{
				{0, vm.Transfer{File: kernel, Total: 100}},
				{10 * time.Millisecond, vm.Transfer{File: initrd, Total: 50}},
				{20 * time.Millisecond, vm.Transfer{File: initrd, Sent: 5, Total: 50}},
				{30 * time.Millisecond, vm.Transfer{File: kernel, Sent: 100, Total: 100, Done: true}},
			},
			want: []int64{0, 0, 100},
		},
		{
			name: "a skipped file is one event",
			reports: []report{
				{0, vm.Transfer{File: kernel, Total: 100, Skipped: true, Done: true}},
			},
			want: []int64{0},
		},
		{
			name: "a failure always goes out",
			reports: []report{
				{0, vm.Transfer{File: kernel, Total: 100}},
				{10 * time.Millisecond, vm.Transfer{File: kernel, Sent: 7, Total: 100, Done: true, Err: errors.New("pool full")}},
			},
			want: []int64{0, 7},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Date(2026, 12, 5, 13, 0, 0, 0, time.UTC)
			var now time.Time
			var got []Event
			r := newUploadReporter(3, 2, func(e Event) { got = append(got, e) })
			r.now = func() time.Time { return now }
			for _, rep := range tt.reports {
				now = start.Add(rep.at)
				r.progress(rep.t)
			}
			var sent []int64
			for _, e := range got {
				if e.Type != TypeVMUpload || e.Boot != 3 || e.Build != 2 || e.BytesDone == nil || e.BytesTotal == nil {
					t.Errorf("event %+v is not a vm.upload of boot 3, build 2 with its bytes", e)
					continue
				}
				sent = append(sent, *e.BytesDone)
			}
			if !slices.Equal(sent, tt.want) {
				t.Errorf("events sent %v, want %v", sent, tt.want)
			}
		})
	}
}

// TestUploadEvent checks the fields and message of each kind of
// vm.upload.
func TestUploadEvent(t *testing.T) {
	tests := []struct {
		name         string
		t            vm.Transfer
		msg          string
		detail       string
		skip, finish bool
	}{
		{name: "going", t: vm.Transfer{File: "/a/vmlinuz", Sent: 1 << 20, Total: 4 << 20, Elapsed: time.Second},
			msg: "uploading vmlinuz to the VM host: 1.0 MiB of 4.0 MiB (25%)"},
		{name: "done", t: vm.Transfer{File: "/a/vmlinuz", Sent: 4 << 20, Total: 4 << 20, Done: true, Elapsed: 2 * time.Second},
			msg: "uploaded vmlinuz to the VM host: 4.0 MiB in 2s", finish: true},
		{name: "skipped", t: vm.Transfer{File: "/a/vmlinuz", Total: 4 << 20, Skipped: true, Done: true},
			msg: "vmlinuz (4.0 MiB): already on the VM host, not sent", skip: true, finish: true},
		{name: "failed", t: vm.Transfer{File: "/a/vmlinuz", Sent: 1 << 20, Total: 4 << 20, Done: true, Err: errors.New("pool full")},
			msg: "upload of vmlinuz to the VM host failed after 1.0 MiB of 4.0 MiB: pool full", detail: "pool full", finish: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := uploadEvent(1, 1, tt.t, time.Now())
			if e.Message != tt.msg || e.Detail != tt.detail || e.Skipped != tt.skip || e.Finished != tt.finish || e.File != tt.t.File {
				t.Errorf("uploadEvent = %q detail %q skipped %v finished %v file %q\nwant %q detail %q skipped %v finished %v",
					e.Message, e.Detail, e.Skipped, e.Finished, e.File, tt.msg, tt.detail, tt.skip, tt.finish)
			}
			if strings.ContainsAny(e.Message, "\n") {
				t.Errorf("message %q is not one line", e.Message)
			}
		})
	}
}
