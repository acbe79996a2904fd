package project_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/ukdev/ukdev/project"
	"github.com/ukdev/ukdev/project/projecttest"
)

// fakeTarget is a deploy target with two keys: zone (a required string)
// and size (an optional integer).
type fakeTarget struct{ name string }

type fakeSection struct {
	Zone any `toml:"zone"`
	Size any `toml:"size"`
}

type fakeSettings struct {
	Zone string
	Size int64
}

func (f fakeTarget) Name() string    { return f.name }
func (f fakeTarget) NewSection() any { return &fakeSection{} }

func (f fakeTarget) DecodeSettings(s *project.Section, raw any) any {
	r := raw.(*fakeSection)
	var out fakeSettings
	out.Zone, _ = s.String("zone", r.Zone, "")
	if r.Zone == nil {
		s.Report("zone", "required")
	}
	switch n := r.Size.(type) {
	case nil:
	case int64:
		out.Size = n
	default:
		s.Report("size", "want an integer")
	}
	return out
}

func init() {
	project.RegisterDeployTarget(fakeTarget{"fake"})
	project.RegisterDeployTarget(fakeTarget{"other"})
}

func TestParseDeploys(t *testing.T) {
	const img = "kernel.image = \"k\"\n"
	tests := []struct {
		name    string
		doc     string
		want    map[string]project.Deploy
		def     string
		pick    string // DeployNamed("") picks this one ("" : an ErrNoDeploy)
		pickErr bool
	}{
		{name: "none", doc: img, pickErr: true},
		{name: "one is the default",
			doc:  img + "[deploy.prod]\ntarget = \"fake\"\nzone = \"z1\"\n",
			want: map[string]project.Deploy{"prod": {Name: "prod", Target: "fake", Settings: fakeSettings{Zone: "z1"}}},
			def:  "prod", pick: "prod"},
		{name: "several without a default",
			doc: img + "[deploy.a]\ntarget = \"fake\"\nzone = \"z\"\n[deploy.b]\ntarget = \"other\"\nzone = \"y\"\nsize = 3\n",
			want: map[string]project.Deploy{
				"a": {Name: "a", Target: "fake", Settings: fakeSettings{Zone: "z"}},
				"b": {Name: "b", Target: "other", Settings: fakeSettings{Zone: "y", Size: 3}},
			},
			pickErr: true},
		{name: "several with a default",
			doc: img + "deploy.default = \"b\"\n[deploy.a]\ntarget = \"fake\"\nzone = \"z\"\n[deploy.b]\ntarget = \"fake\"\nzone = \"y\"\n",
			want: map[string]project.Deploy{
				"a": {Name: "a", Target: "fake", Settings: fakeSettings{Zone: "z"}},
				"b": {Name: "b", Target: "fake", Settings: fakeSettings{Zone: "y"}},
			},
			def: "b", pick: "b"},
		{name: "inline and dotted forms",
			doc:  img + "[deploy]\nx = { target = \"fake\", zone = \"q\" }\n",
			want: map[string]project.Deploy{"x": {Name: "x", Target: "fake", Settings: fakeSettings{Zone: "q"}}},
			def:  "x", pick: "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := parseTest(t, tt.doc)
			if !reflect.DeepEqual(c.Deploys, tt.want) {
				t.Errorf("Deploys = %+v, want %+v", c.Deploys, tt.want)
			}
			if c.DefaultDeploy != tt.def {
				t.Errorf("DefaultDeploy = %q, want %q", c.DefaultDeploy, tt.def)
			}
			d, err := c.DeployNamed("")
			switch {
			case tt.pickErr && !errors.Is(err, project.ErrNoDeploy):
				t.Errorf("DeployNamed(\"\") = %+v, %v; want ErrNoDeploy", d, err)
			case !tt.pickErr && (err != nil || d.Name != tt.pick):
				t.Errorf("DeployNamed(\"\") = %+v, %v; want %s", d, err, tt.pick)
			}
			for name := range tt.want {
				if d, err := c.DeployNamed(name); err != nil || d.Name != name {
					t.Errorf("DeployNamed(%q) = %+v, %v", name, d, err)
				}
			}
			if _, err := c.DeployNamed("nope"); !errors.Is(err, project.ErrNoDeploy) {
				t.Errorf("DeployNamed(nope) = %v, want ErrNoDeploy", err)
			}
		})
	}
}

func TestParseDeployErrors(t *testing.T) {
	const img = "kernel.image = \"k\"\n"
	tests := []struct {
		name      string
		doc       string
		line, col int
		key       string
		msg       string
	}{
		{"unknown key, suggestion", img + "[deploy.prod]\ntarget = \"fake\"\nzone = \"z\"\nszie = 2\n", 5, 1, "deploy.prod.szie", "did you mean size?"},
		{"unknown key, list", img + "[deploy.prod]\ntarget = \"fake\"\nzone = \"z\"\nbucket = 2\n", 5, 1, "deploy.prod.bucket", "[deploy.prod] accepts: target, zone, size"},
		{"unknown target", img + "[deploy.prod]\ntarget = \"gce\"\nzone = \"z\"\n", 3, 10, "deploy.prod.target", `target "gce" is not supported; supported: fake, other`},
		{"missing target", img + "[deploy.prod]\nzone = \"z\"\n", 2, 9, "deploy.prod.target", "required: where the deploy goes, one of fake, other"},
		{"target not a string", img + "[deploy.prod]\ntarget = 1\n", 3, 10, "deploy.prod.target", "want a string, one of fake, other, got an integer"},
		{"unknown target after keys it would refuse", img + "[deploy.prod]\nbogus = 1\ntarget = \"gce\"\n", 4, 10, "deploy.prod.target", `"gce" is not supported`},
		{"target's own rule", img + "[deploy.prod]\ntarget = \"fake\"\nsize = \"x\"\nzone = \"z\"\n", 4, 8, "deploy.prod.size", "want an integer"},
		{"target's required key", img + "[deploy.prod]\ntarget = \"fake\"\n", 2, 9, "deploy.prod.zone", "required"},
		{"not a table", img + "deploy.prod = \"fake\"\n", 2, 15, "deploy.prod", "want a table ([deploy.prod] with target = one of fake, other)"},
		{"misspelt default", img + "deploy.defualt = \"prod\"\n", 2, 18, "deploy.defualt", "did you mean default?"},
		{"default names nothing", img + "deploy.default = \"prod\"\n", 2, 18, "deploy.default", "no [deploy.prod] section (there is none)"},
		{"default names another", img + "[deploy]\ndefault = \"prd\"\nprod = { target = \"fake\", zone = \"z\" }\n", 3, 11, "deploy.default", "no [deploy.prd] section (configured: prod)"},
		{"default not a string", img + "[deploy.default]\ntarget = \"fake\"\n", 2, 9, "deploy.default", "no deploy can be named default"},
		{"bad name", img + "[deploy.\"a b\"]\ntarget = \"fake\"\n", 2, 2, `deploy."a b"`, "bad deploy name"},
		{"deploy not a table", img + "deploy = 1\n", 2, 10, "deploy", "want a table"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			projecttest.CheckError(t, tt.doc, tt.line, tt.col, tt.key, tt.msg)
		})
	}
}

// Several broken deploys report the first problem in the file, every time,
// whatever the order of the sections' names.
func TestParseDeployFirstErrorInFileOrder(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want string
	}{
		{"sections in file order, not name order",
			"kernel.image = \"k\"\n[deploy.zz]\ntarget = \"fake\"\nzone = 1\n[deploy.aa]\ntarget = \"nope\"\n[deploy.mm]\ntarget = \"other\"\nzonee = \"x\"\n",
			`ukdev.toml:4:8: deploy.zz.zone: want a string, got an integer`},
		{"deploy before the rest",
			"kernel.image = \"k\"\n[deploy.b]\ntarget = \"x\"\n[vm]\ncpus = 0\n[deploy.a]\ntarget = \"fake\"\nbogus = 1\n",
			`ukdev.toml:3:10: deploy.b.target: target "x" is not supported; supported: fake, other`},
		{"the rest before deploy",
			"kernel.image = \"k\"\nvm.cpus = 0\n[deploy.b]\ntarget = \"x\"\n",
			`ukdev.toml:2:11: vm.cpus: 0 is less than 1`},
		{"an unknown key among several sections",
			"kernel.image = \"k\"\n[deploy.c]\ntarget = \"fake\"\nzone = \"z\"\nsiz = 1\n[deploy.b]\ntarget = \"fake\"\nzon = \"z\"\n",
			`ukdev.toml:5:1: deploy.c.siz: unknown key (did you mean size?)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := projecttest.OneError(t, tt.doc); got != tt.want {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestRegisterDeployTargetRefusals(t *testing.T) {
	tests := []struct {
		name string
		t    project.DeployTarget
	}{
		{"twice", fakeTarget{"fake"}},
		{"own target key", badTarget{&struct {
			Target any `toml:"target"`
		}{}}},
		{"not a pointer", badTarget{fakeSection{}}},
		{"untyped field", badTarget{&struct {
			Zone string `toml:"zone"`
		}{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("RegisterDeployTarget did not panic")
				}
			}()
			project.RegisterDeployTarget(tt.t)
		})
	}
}

// badTarget is a deploy target with a section RegisterDeployTarget refuses.
type badTarget struct{ section any }

func (b badTarget) Name() string                                   { return "bad" }
func (b badTarget) NewSection() any                                { return b.section }
func (b badTarget) DecodeSettings(s *project.Section, raw any) any { return nil }
