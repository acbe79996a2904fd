package main

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"

	"github.com/ukdev/ukdev/deploy"
	"github.com/ukdev/ukdev/deploy/aws/awstest"
	"github.com/ukdev/ukdev/project"
)

// fakeOpsList is an ops that lists one earlier instance of the deploy.
const fakeOpsList = `#!/bin/sh
[ "$1 $2" = "instance list" ] || exit 2
echo '[{"ID":"1001","Name":"hello-prod-b11-1204100000","Status":"RUNNING","Created":"2026-12-04T10:00:00Z","PrivateIps":[],"PublicIps":["203.0.113.5"],"Ports":[],"Image":"hello-prod-b11-1204100000"}]'
`

// TestDeployPlanGolden keeps what `ukdev deploy --dry-run` prints for each
// target here in testdata/TestDeployPlanGolden (go test -update rewrites
// it).
func TestDeployPlanGolden(t *testing.T) {
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "ops"), []byte(fakeOpsList), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	tests := []struct {
		name    string
		section string
	}{
		{"command", "[deploy.prod]\ntarget = \"command\"\ncommand = \"./deploy.sh\"\n"},
		{"command-no-disk", "[deploy.prod]\ntarget = \"command\"\ncommand = \"kraft cloud deploy --kernel \\\"$UKDEV_KERNEL\\\"\"\ndisk = false\n"},
		{"ops", "[deploy.prod]\ntarget = \"ops\"\nprovider = \"gcp\"\nzone = \"europe-west1-b\"\nproject_id = \"my-project\"\n"},
		{"aws", "[deploy.prod]\ntarget = \"aws\"\nregion = \"eu-central-1\"\ninstance_type = \"t3.small\"\nena = true\n" +
			"subnet = \"subnet-0a\"\nsecurity_groups = [\"sg-extra\"]\nname_prefix = \"web\"\nkeep_images = 1\n"},
	}
	// The aws target plans against a fake cloud that holds an earlier
	// deploy of the project.
	cloud := awstest.New(t)
	seedAWS(cloud, "hello")
	cloud.Setenv(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeFile(t, filepath.Join(root, "config.json"), `{"CloudConfig": {"BucketName": "ukdev-images"}}`)
			doc := "name = \"hello\"\nkernel.image = \"build/hello.elf\"\nvm.ports = [\"8080:80\", \"udp:5353:53\"]\n" + tt.section
			cfg, err := project.Parse(filepath.Join(root, project.FileName), []byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			d, err := cfg.DeployNamed("")
			if err != nil {
				t.Fatal(err)
			}
			dep, err := deploy.Open(d)
			if err != nil {
				t.Fatal(err)
			}
			s := &deploy.Session{
				Target: d.Target, Deployer: dep, TempDisk: false,
				Request: deploy.Request{
					Project: cfg.Name, Name: d.Name, Build: 12, BuildOK: true, Flavor: "elf",
					Kernel: "/run/ukdev/images/build-000012/kernel", Cmdline: "console=ttyS0",
					Ports: cfg.VM.Ports, Root: cfg.Root, Program: cfg.Kernel.Image,
				},
				Disk: func(context.Context, func(deploy.Step)) (string, int64, error) {
					return "/tmp/ukdev-disk/hello-b12.raw", 64 << 20, nil
				},
				Confirm: func(context.Context, deploy.Plan) (bool, error) { return false, nil },
			}
			p, err := s.Plan(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var out strings.Builder
			writePlan(&out, d.Name, p)
			text := strings.ReplaceAll(out.String(), root, "/work/hello")
			text = regexp.MustCompile(`-b12-\d{10}`).ReplaceAllString(text, "-b12-MMDDhhmmss")
			golden.RequireEqual(t, text)
		})
	}
}

func TestElapsedShort(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                       "0.0s",
		1234 * time.Millisecond: "1.2s",
		125 * time.Second:       "2m05s",
	} {
		if got := elapsedShort(d); got != want {
			t.Errorf("elapsedShort(%v) = %q, want %q", d, got, want)
		}
	}
}

// fakeCloudConsole serves a console in pieces, and cancels after the last.
type fakeCloudConsole struct {
	pieces  []string
	offsets []int64
	cancel  context.CancelFunc
}

func (f *fakeCloudConsole) Console(ctx context.Context, instance string, offset int64) ([]byte, int64, error) {
	f.offsets = append(f.offsets, offset)
	i := len(f.offsets) - 1
	if i >= len(f.pieces) {
		return nil, offset, nil
	}
	if i == len(f.pieces)-1 && f.cancel != nil {
		f.cancel()
	}
	return []byte(f.pieces[i]), offset + int64(len(f.pieces[i])), nil
}

func TestFollowConsole(t *testing.T) {
	tests := []struct {
		name        string
		follow      bool
		pieces      []string
		want        string
		wantOffsets []int64
	}{
		{"print", false, []string{"boot\nhello \x1b]52;c;x\x07world\npartial"}, "boot\nhello world\npartial\n", []int64{0}},
		{"follow until cancelled", true, []string{"one\ntw", "o\n"}, "one\ntwo\n", []int64{0, 6}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			fc := &fakeCloudConsole{pieces: tt.pieces}
			if tt.follow {
				fc.cancel = cancel
			}
			var out strings.Builder
			a := &app{stdout: &out}
			if err := a.followConsole(ctx, fc, "i-1", tt.follow, time.Millisecond); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("printed %q, want %q", out.String(), tt.want)
			}
			if !reflect.DeepEqual(fc.offsets, tt.wantOffsets) {
				t.Errorf("asked from offsets %v, want %v", fc.offsets, tt.wantOffsets)
			}
		})
	}
}

func TestProgressText(t *testing.T) {
	tests := []struct {
		pr   deploy.Progress
		want string
	}{
		{deploy.Progress{Kind: deploy.KindStep, Step: deploy.Step{Name: "create image", Message: "hello-b12"}}, "create image: hello-b12…"},
		{deploy.Progress{Kind: deploy.KindStep, Step: deploy.Step{Name: "create image", Message: "hello-b12", Finished: true}}, "create image: hello-b12"},
		{deploy.Progress{Kind: deploy.KindStep, Step: deploy.Step{Name: "open ports", Finished: true}}, "the event's"},
		{deploy.Progress{Kind: deploy.KindStart}, "the event's"},
	}
	for _, tt := range tests {
		if got := progressText(tt.pr, "the event's"); got != tt.want {
			t.Errorf("progressText(%+v) = %q, want %q", tt.pr.Step, got, tt.want)
		}
	}
}

func TestNewest(t *testing.T) {
	now := time.Now()
	list := []deploy.Instance{{ID: "a", Build: 3}, {ID: "b", Build: 5, Created: now}, {ID: "c", Build: 5, Created: now.Add(time.Minute)}, {ID: "d", Build: 4}}
	if got := newest(list).ID; got != "c" {
		t.Errorf("newest = %s, want c", got)
	}
}
