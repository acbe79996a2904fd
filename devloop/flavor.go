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
// otherwise), and is pointed at it before its first Prepare; not when
// the VM runs on another host or on a network of the VM host
// (flavor.RemoteVM, flavor.GuestNetwork), where QEMU's user network does
// not deliver 10.0.2.2 to this machine's loopback: a note says so.
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
	notes := s.Notes
	sh, ok := s.Kernel.(flavor.SyslogShipper)
	if ok && sh.WantsSyslog() && (flavor.RemoteVM(cfg) || flavor.GuestNetwork(cfg)) {
		notes = append(notes, "the guest's syslog is not received: it runs on the libvirt host, which cannot reach ukdev's loopback (its console still shows)")
		ok = false
	}
	if ok && sh.WantsSyslog() {
		var port int
		if sink, port, err = listenSyslog(); err != nil {
			return nil, nil, nil, nil, err
		}
		sh.SyslogTo(port)
	}
	return s.Kernel, s.Config, notes, sink, nil
}
