package devloop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ukdev/ukdev/deploy"
)

func TestDeployEvent(t *testing.T) {
	at := time.Date(2026, 12, 5, 7, 0, 0, 0, time.UTC)
	base := deploy.Progress{Target: "gcp", Name: "prod", Build: 12, Elapsed: 1500 * time.Millisecond}
	with := func(f func(*deploy.Progress)) deploy.Progress {
		p := base
		f(&p)
		return p
	}
	tests := []struct {
		name string
		p    deploy.Progress
		want string
	}{
		{"start", with(func(p *deploy.Progress) { p.Kind = deploy.KindStart }),
			`{"ts":"2026-12-05T07:00:00.000Z","type":"deploy.start","message":"deploy prod (gcp): build #12","build":12,"target":"gcp","deploy":"prod","elapsed_ms":1500}`},
		{"step begun", with(func(p *deploy.Progress) { p.Kind, p.Step = deploy.KindStep, deploy.Step{Name: "create image"} }),
			`{"ts":"2026-12-05T07:00:00.000Z","type":"deploy.step","message":"create image…","build":12,"target":"gcp","deploy":"prod","step":"create image","elapsed_ms":1500}`},
		{"step finished", with(func(p *deploy.Progress) {
			p.Kind, p.Step = deploy.KindStep, deploy.Step{Name: "create image", Finished: true}
		}),
			`{"ts":"2026-12-05T07:00:00.000Z","type":"deploy.step","message":"create image: done","build":12,"target":"gcp","deploy":"prod","step":"create image","finished":true,"elapsed_ms":1500}`},
		{"tool output", with(func(p *deploy.Progress) {
			p.Kind, p.Step = deploy.KindStep, deploy.Step{Name: "ops image create", Message: "image hello-b12 created"}
		}),
			`{"ts":"2026-12-05T07:00:00.000Z","type":"deploy.step","message":"image hello-b12 created","build":12,"target":"gcp","deploy":"prod","step":"ops image create","elapsed_ms":1500}`},
		{"progress", with(func(p *deploy.Progress) {
			p.Kind, p.Step = deploy.KindProgress, deploy.Step{Name: "upload disk", Done: 0, Total: 3 << 20}
		}),
			`{"ts":"2026-12-05T07:00:00.000Z","type":"deploy.progress","message":"upload disk: 0 B of 3.0 MiB (0%)","build":12,"target":"gcp","deploy":"prod","step":"upload disk","bytes_done":0,"bytes_total":3145728,"elapsed_ms":1500}`},
		{"done", with(func(p *deploy.Progress) {
			p.Kind, p.Result = deploy.KindDone, deploy.Result{Instance: "hello-b12", ExternalIP: "203.0.113.7", URLs: []string{"http://203.0.113.7:8080"}, Elapsed: 62 * time.Second}
		}),
			`{"ts":"2026-12-05T07:00:00.000Z","type":"deploy.done","message":"deployed build #12 to prod (gcp) in 1m2s: instance hello-b12, 203.0.113.7, http://203.0.113.7:8080","build":12,"target":"gcp","deploy":"prod","instance":"hello-b12","ip":"203.0.113.7","urls":["http://203.0.113.7:8080"],"elapsed_ms":62000}`},
		{"error", with(func(p *deploy.Progress) { p.Kind, p.Err = deploy.KindError, errors.New("deploy: quota exceeded") }),
			`{"ts":"2026-12-05T07:00:00.000Z","type":"deploy.error","message":"deploy prod failed: deploy: quota exceeded","build":12,"detail":"deploy: quota exceeded","target":"gcp","deploy":"prod","elapsed_ms":1500}`},
		{"declined", with(func(p *deploy.Progress) { p.Kind, p.Err = deploy.KindError, deploy.ErrDeclined }),
			`{"ts":"2026-12-05T07:00:00.000Z","type":"deploy.error","message":"deploy prod not confirmed: nothing was changed","build":12,"detail":"deploy: not confirmed","target":"gcp","deploy":"prod","elapsed_ms":1500}`},
		{"cancelled", with(func(p *deploy.Progress) {
			p.Kind, p.Err = deploy.KindError, fmt.Errorf("deploy: prod: %w", context.Canceled)
		}),
			`{"ts":"2026-12-05T07:00:00.000Z","type":"deploy.error","message":"deploy prod cancelled: deploy: prod: context canceled","build":12,"detail":"deploy: prod: context canceled","target":"gcp","deploy":"prod","elapsed_ms":1500}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(DeployEvent(tt.p, at))
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Errorf("got  %s\nwant %s", b, tt.want)
			}
		})
	}
}
