package manager

import (
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/ukdev/ukdev/vm/libvirt"
)

func TestHosts(t *testing.T) {
	tests := []struct {
		name  string
		vms   []VM
		extra []string
		want  []string
	}{
		{"none", []VM{{Entry: Entry{Project: "a"}}}, nil, nil},
		{"loops first, each once, empties skipped",
			[]VM{{Entry: Entry{Host: "qemu+ssh://b/system"}}, {}, {Entry: Entry{Host: "qemu:///system"}}, {Entry: Entry{Host: "qemu+ssh://b/system"}}},
			[]string{"", "qemu:///system", "qemu+ssh://c/system"},
			[]string{"qemu+ssh://b/system", "qemu:///system", "qemu+ssh://c/system"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Hosts(tt.vms, tt.extra...); !slices.Equal(got, tt.want) {
				t.Errorf("Hosts = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMerge(t *testing.T) {
	const here = "dev1"
	alive := func(pid int) bool { return pid == 100 || pid == 200 || pid == 300 }
	o := Owners{Hostname: here, Alive: alive}
	loopA := VM{Entry: Entry{Project: "a", Root: "/p/a", PID: 100, Host: "qemu:///system"}, State: "running"}
	loopB := VM{Entry: Entry{Project: "b", Root: "/p/b", PID: 200}, State: "running"} // QEMU here
	dom := func(name, host string, pid int, project, state string) libvirt.Domain {
		return libvirt.Domain{Name: name, Owner: libvirt.Owner{Host: host, PID: pid, Project: project}, State: state}
	}
	tests := []struct {
		name  string
		vms   []VM
		hosts []HostDomains
		want  []VM
	}{
		{"loops only", []VM{loopA, loopB}, []HostDomains{{URI: "qemu:///system"}}, []VM{loopA, loopB}},
		{"a loop's domain goes in its row",
			[]VM{loopA, loopB},
			[]HostDomains{{URI: "qemu:///system", Domains: []libvirt.Domain{dom("ukdev-a-1", here, 100, "/p/a", "running")}}},
			[]VM{func() VM { v := loopA; v.Domain = "ukdev-a-1"; return v }(), loopB}},
		{"orphan, foreign and live non-loop owners get rows, sorted by host then name",
			[]VM{loopA},
			[]HostDomains{
				{URI: "qemu:///system", Domains: []libvirt.Domain{
					dom("ukdev-z-9", here, 300, "/q/z", "paused"), // owner lives but runs no loop of ours
					dom("ukdev-a-1", here, 100, "/p/a", "running"),
					dom("ukdev-c-3", here, 999, "/p/c", "running"), // owner gone
				}},
				{URI: "qemu+ssh://kvm1/system", Domains: []libvirt.Domain{
					dom("ukdev-d-4", "laptop", 100, "/home/x/d", "crashed"), // same pid, other machine
				}},
				{URI: "qemu+ssh://down/system", Err: errors.New("unreachable")},
			},
			[]VM{
				func() VM { v := loopA; v.Domain = "ukdev-a-1"; return v }(),
				{Entry: Entry{Project: "c", Root: "/p/c", Host: "qemu:///system"}, State: "running", Domain: "ukdev-c-3", OwnerHost: here, OwnerPID: 999, Orphan: true},
				{Entry: Entry{Project: "z", Root: "/q/z", Host: "qemu:///system"}, State: "paused", Domain: "ukdev-z-9", OwnerHost: here, OwnerPID: 300},
				{Entry: Entry{Project: "d", Root: "/home/x/d", Host: "qemu+ssh://kvm1/system"}, State: "crashed", Domain: "ukdev-d-4", OwnerHost: "laptop", OwnerPID: 100},
			}},
		{"a second domain of a loop (hot reboot) gets its own row",
			[]VM{loopA},
			[]HostDomains{{URI: "qemu:///system", Domains: []libvirt.Domain{
				dom("ukdev-a-1", here, 100, "/p/a", "running"),
				dom("ukdev-a-2", here, 100, "/p/a", "paused"),
			}}},
			[]VM{
				func() VM { v := loopA; v.Domain = "ukdev-a-1"; return v }(),
				{Entry: Entry{Project: "a", Root: "/p/a", Host: "qemu:///system"}, State: "paused", Domain: "ukdev-a-2", OwnerHost: here, OwnerPID: 100},
			}},
		{"no project in the metadata",
			nil,
			[]HostDomains{{URI: "qemu:///system", Domains: []libvirt.Domain{dom("ukdev-5", "elsewhere", 0, "", "running")}}},
			[]VM{{Entry: Entry{Project: "?", Host: "qemu:///system"}, State: "running", Domain: "ukdev-5", OwnerHost: "elsewhere"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.vms)
			got := Merge(tt.vms, tt.hosts, o)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Merge =\n%+v\nwant\n%+v", got, tt.want)
			}
			if !reflect.DeepEqual(tt.vms, in) {
				t.Errorf("Merge changed its input: %+v", tt.vms)
			}
		})
	}
}

func TestOwnerLoop(t *testing.T) {
	vms := []VM{{Entry: Entry{Project: "a", PID: 100}}, {Entry: Entry{Project: "b", PID: 200}}}
	tests := []struct {
		name  string
		owner libvirt.Owner
		want  string
	}{
		{"this machine, a loop's pid", libvirt.Owner{Host: "dev1", PID: 200}, "b"},
		{"this machine, no loop", libvirt.Owner{Host: "dev1", PID: 300}, ""},
		{"a loop's pid on another machine", libvirt.Owner{Host: "laptop", PID: 100}, ""},
		{"no pid", libvirt.Owner{Host: "dev1"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, ok := OwnerLoop(vms, libvirt.Domain{Name: "ukdev-x", Owner: tt.owner}, "dev1")
			if ok != (tt.want != "") || v.Project != tt.want {
				t.Errorf("OwnerLoop = %+v, %v; want %q", v, ok, tt.want)
			}
		})
	}
}

func TestFindDomain(t *testing.T) {
	dom := func(name, project string) libvirt.Domain {
		return libvirt.Domain{Name: name, Owner: libvirt.Owner{Project: project}}
	}
	hosts := []HostDomains{
		{URI: "qemu:///system", Domains: []libvirt.Domain{dom("ukdev-hello-1", "/p/hello"), dom("ukdev-api-1", "/p/api"), dom("ukdev-api-2", "/q/api")}},
		{URI: "qemu+ssh://kvm1/system", Domains: []libvirt.Domain{dom("ukdev-web-1", "/p/web"), dom("ukdev-hello-1", "/r/hello")}},
		{URI: "qemu+ssh://down/system", Err: errors.New("unreachable")},
	}
	tests := []struct {
		name    string
		arg     string
		wantURI string
		wantDom string
		wantErr error
	}{
		{"by domain name", "ukdev-api-2", "qemu:///system", "ukdev-api-2", nil},
		{"by project on another host", "web", "qemu+ssh://kvm1/system", "ukdev-web-1", nil},
		{"a domain's name wins over a project", "ukdev-web-1", "qemu+ssh://kvm1/system", "ukdev-web-1", nil},
		{"project with two domains", "api", "", "", ErrDomainAmbiguous},
		{"same name on two hosts", "ukdev-hello-1", "", "", ErrDomainAmbiguous},
		{"none", "nothing", "", "", ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FindDomain(hosts, tt.arg)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("FindDomain(%q) = %+v, %v; want %v", tt.arg, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got.URI != tt.wantURI || got.Domain.Name != tt.wantDom {
				t.Errorf("FindDomain(%q) = %+v, %v; want %s on %s", tt.arg, got, err, tt.wantDom, tt.wantURI)
			}
		})
	}
}

func TestDedupe(t *testing.T) {
	a := libvirt.Domain{Name: "ukdev-hello-1", Owner: libvirt.Owner{Host: "laptop", PID: 7, Project: "/src/hello"}, State: "running"}
	b := libvirt.Domain{Name: "ukdev-api-2", Owner: libvirt.Owner{Host: "laptop", PID: 9, Project: "/src/api"}, State: "paused"}
	// The same name made by another ukdev: another daemon's domain.
	other := libvirt.Domain{Name: "ukdev-hello-1", Owner: libvirt.Owner{Host: "desk", PID: 7, Project: "/src/hello"}, State: "running"}
	tests := []struct {
		name string
		in   []HostDomains
		want [][]string // domain names per host
	}{
		{"one host", []HostDomains{{URI: "h1", Domains: []libvirt.Domain{a, b}}}, [][]string{{a.Name, b.Name}}},
		{"one daemon under two URIs", []HostDomains{
			{URI: "qemu+ssh://me@kvm1/system", Domains: []libvirt.Domain{a, b}},
			{URI: "qemu+ssh://kvm1/system", Domains: []libvirt.Domain{b, a}},
		}, [][]string{{a.Name, b.Name}, nil}},
		{"two daemons", []HostDomains{
			{URI: "h1", Domains: []libvirt.Domain{a}},
			{URI: "h2", Domains: []libvirt.Domain{other}},
		}, [][]string{{a.Name}, {other.Name}}},
		{"a host that failed", []HostDomains{{URI: "h1", Err: errors.New("refused")}, {URI: "h2", Domains: []libvirt.Domain{a}}}, [][]string{nil, {a.Name}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := dedupe(tt.in)
			for i, h := range got {
				var names []string
				for _, d := range h.Domains {
					names = append(names, d.Name)
				}
				if !slices.Equal(names, tt.want[i]) {
					t.Errorf("host %s: %v, want %v", h.URI, names, tt.want[i])
				}
			}
		})
	}
}
