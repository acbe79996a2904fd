package devloop

import (
	"github.com/ukdev/ukdev/flavor"
	"github.com/ukdev/ukdev/project"
)

// newFlavor opens the project's flavor (flavor.Lookup, then Open): the
// kernel to prepare and decode boots with, a copy of cfg completed by the
// flavor (ports and memory from its own config, its build command), and
// notes to show the user (keys ukdev ignores, a build command it chose).
//
// A kernel whose guest ships its log over syslog to the host
// (flavor.SyslogShipper) gets a loopback receiver, the returned sink (nil
// otherwise), and is pointed at it before its first Prepare.
func newFlavor(cfg *project.Config) (flavor.Kernel, *project.Config, []string, *syslogSink, error) {
	f, err := flavor.Lookup(cfg.Flavor)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	s, err := f.Open(cfg)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	var sink *syslogSink
	if sh, ok := s.Kernel.(flavor.SyslogShipper); ok && sh.WantsSyslog() {
		var port int
		if sink, port, err = listenSyslog(); err != nil {
			return nil, nil, nil, nil, err
		}
		sh.SyslogTo(port)
	}
	return s.Kernel, s.Config, s.Notes, sink, nil
}
