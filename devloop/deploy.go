package devloop

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ukdev/ukdev/deploy"
)

// DeployEvent turns a deploy's Progress into the Event the views and the
// JSON stream show, at time now.
func DeployEvent(p deploy.Progress, now time.Time) Event {
	e := Event{Time: now, Target: p.Target, Deploy: p.Name, Build: p.Build, ElapsedMS: ptr(ms(p.Elapsed))}
	switch p.Kind {
	case deploy.KindStart:
		e.Type = TypeDeployStart
		e.Message = fmt.Sprintf("deploy %s (%s): build #%d", p.Name, p.Target, p.Build)
	case deploy.KindStep:
		e.Type = TypeDeployStep
		e.Step, e.Finished = p.Step.Name, p.Step.Finished
		switch {
		case p.Step.Message != "":
			e.Message = p.Step.Message
		case p.Step.Finished:
			e.Message = p.Step.Name + ": done"
		default:
			e.Message = p.Step.Name + "…"
		}
	case deploy.KindProgress:
		e.Type = TypeDeployProgress
		e.Step, e.Finished = p.Step.Name, p.Step.Finished
		e.BytesDone, e.BytesTotal = ptr(p.Step.Done), ptr(p.Step.Total)
		e.Message = fmt.Sprintf("%s: %s of %s (%d%%)", p.Step.Name, deploy.Size(p.Step.Done), deploy.Size(p.Step.Total), p.Step.Done*100/max(p.Step.Total, 1))
	case deploy.KindDone:
		e.Type = TypeDeployDone
		r := p.Result
		e.Instance, e.IP, e.URLs = r.Instance, r.ExternalIP, r.URLs
		e.ElapsedMS = ptr(ms(r.Elapsed))
		parts := []string{"instance " + r.Instance}
		if r.ExternalIP != "" {
			parts = append(parts, r.ExternalIP)
		}
		parts = append(parts, r.URLs...)
		e.Message = fmt.Sprintf("deployed build #%d to %s (%s) in %s: %s", p.Build, p.Name, p.Target, deploy.RoundElapsed(r.Elapsed), strings.Join(parts, ", "))
	case deploy.KindError:
		e.Type = TypeDeployError
		if p.Err != nil {
			e.Detail = p.Err.Error()
		}
		switch {
		case errors.Is(p.Err, deploy.ErrDeclined):
			e.Message = fmt.Sprintf("deploy %s not confirmed: nothing was changed", p.Name)
		case errors.Is(p.Err, context.Canceled):
			e.Message = fmt.Sprintf("deploy %s cancelled: %s", p.Name, e.Detail)
		default:
			e.Message = fmt.Sprintf("deploy %s failed: %s", p.Name, e.Detail)
		}
	}
	return e
}
