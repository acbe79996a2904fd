package nanos

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/ukdev/ukdev/project"
)

// InitParts implements project.Flavor: the program is the image, ops'
// config holds the program's arguments, ports and memory, and a project
// without one gets it (OpsConfigFile).
func (Flavor) InitParts(d project.Detection) project.InitParts {
	p := project.InitParts{
		IgnoreProgram: true,
		Memory:        fmt.Sprintf("# memory = \"512M\"               # default: %s's RunConfig.Memory, else 512M", OpsConfigName),
		PortsNote:     fmt.Sprintf("#   (and %s's RunConfig.Ports, each on %s with the guest's port number)", OpsConfigName, project.DefaultHostAddr),
		Section: []string{
			"[nanos]",
			fmt.Sprintf("# config = %s        # ops' config: arguments, environment, files, ports, memory", project.TOMLString(OpsConfigName)),
			"# kernel = \"\"                   # a kernel.img to boot instead of ops' kernel cache (~/.ops)",
			"# version = \"\"                  # a Nanos version in the cache; default: the config's NanosVersion, else latest.txt",
			"# boot = \"direct\"               # direct (microvm, fastest) or disk (q35, as ops boots)",
		},
	}
	// The program is its own symbol file; its arguments are the ops
	// config's Args: image is [kernel]'s only key.
	if d.Image != "" {
		p.Kernel = []string{fmt.Sprintf("image = %s  # the program the build produces; Nanos runs it", project.TOMLString(d.Image))}
	} else {
		p.Kernel = []string{fmt.Sprintf("image = %s     # placeholder: the path of the program your build produces", project.TOMLString(placeholderProgram))}
	}
	if data := OpsConfigFile(d); data != nil {
		p.Files = []project.ExtraFile{{Name: OpsConfigName, Data: data, About: "ops' config: the program's arguments, environment and ports"}}
	}
	return p
}

// opsConfig is the part of an ops config OpsConfigFile writes, in the
// order ops' documentation lists the keys.
type opsConfig struct {
	Program   string            `json:"Program"`
	Args      []string          `json:"Args"`
	Env       map[string]string `json:"Env"`
	RunConfig *opsRunConfig     `json:"RunConfig,omitempty"`
}

type opsRunConfig struct {
	Ports []string `json:"Ports"`
}

// OpsConfigFile renders a minimal ops config (config.json) for a
// detection: the program, empty arguments (after argv[0], which is the
// program's name) and environment to fill in, and the detected ports
// forwarded. The same file drives `ops run -c config.json`.
func OpsConfigFile(d project.Detection) []byte {
	c := opsConfig{Program: d.Image, Args: []string{}, Env: map[string]string{}}
	if c.Program == "" {
		c.Program = placeholderProgram
	}
	if len(d.Ports) > 0 {
		c.RunConfig = &opsRunConfig{}
		for _, p := range d.Ports {
			c.RunConfig.Ports = append(c.RunConfig.Ports, strconv.Itoa(p))
		}
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		// Strings, slices and maps of strings always encode.
		return nil
	}
	return append(data, '\n')
}
