package linux_test

import (
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/ukdev/ukdev/flavor/all"
	"github.com/ukdev/ukdev/flavor/linux"
	"github.com/ukdev/ukdev/project"
	"github.com/ukdev/ukdev/project/projecttest"
)

// root is where test configs pretend to live.
const root = "/work/proj"

func TestInitFileLinux(t *testing.T) {
	d := project.Detection{Flavor: "linux", Source: "go.mod and main.go", Complete: true, Image: "app", Ports: []int{8080, 9090},
		BuildCommand: "CGO_ENABLED=0 go build -o app .", Reason: "main.go is a Go program"}
	data := project.InitFile(d)
	for _, want := range []string{"flavor = \"linux\"", "[linux]\n", "kernel_version = \"" + linux.DefaultKernelVersion + "\"",
		"# kernel = \"\"", "ports = [\"8080:8080\", \"9090:9090\"]", "ignore = [\"/app\", \"/app-go-tmp-*\"]", "image = \"app\""} {
		if !strings.Contains(string(data), want) {
			t.Errorf("no %q in\n%s", want, data)
		}
	}
	// Pinned whatever was detected: a later ukdev keeps the project's
	// kernel.
	if !strings.Contains(string(project.InitFile(project.Detection{Flavor: "linux"})), "\nkernel_version = ") {
		t.Error("kernel_version not pinned without a detected program")
	}
	c := projecttest.MustParse(t, filepath.Join(root, project.FileName), data)
	if c.Flavor != "linux" || c.Build.Command != d.BuildCommand || c.Kernel.Image != root+"/app" || len(c.VM.Ports) != 2 || !c.VM.Network {
		t.Errorf("flavor %q command %q image %q ports %+v", c.Flavor, c.Build.Command, c.Kernel.Image, c.VM.Ports)
	}
	for _, section := range []string{"[linux]", "[kernel]"} {
		if _, err := project.Parse(filepath.Join(root, project.FileName), projecttest.Uncomment(data, section)); err != nil {
			t.Errorf("uncommented %s does not parse: %v\n%s", section, err, projecttest.Uncomment(data, section))
		}
	}
}
