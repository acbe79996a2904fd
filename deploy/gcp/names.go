package gcp

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/api/compute/v1"
)

// Labels ukdev puts on every image and instance it creates.
const (
	// labelPrefix starts ukdev's label keys; the labels key refuses it.
	labelPrefix = "ukdev-"
	// labelProject holds the project's name, labelDeploy the deploy's,
	// labelBuild the build number.
	labelProject = "ukdev-project"
	labelDeploy  = "ukdev-deploy"
	labelBuild   = "ukdev-build"
)

// maxName is the longest Compute resource name.
const maxName = 63

// clean makes s a Compute name part or a label value: lowercase letters,
// digits and single dashes, at most max characters, without a trailing
// dash.
func clean(s string, max int) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9'
		switch {
		case ok:
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
	}
	out := b.String()
	if len(out) > max {
		out = out[:max]
	}
	return strings.TrimRight(out, "-")
}

// projectLabel is the label value naming a project.
func projectLabel(project string) string {
	if v := clean(project, maxName); v != "" {
		return v
	}
	return "unnamed"
}

// family returns the image family, which also starts the names of the
// deploy's images and instances.
func (st Settings) family(project string) string {
	if st.ImageFamily != "" {
		return st.ImageFamily
	}
	base := clean(project, 40)
	if base == "" || base[0] < 'a' || base[0] > 'z' {
		base = clean("ukdev-"+base, 40)
	}
	return base
}

// firewallName is the name of the project's firewall rule, which is also
// the network tag it targets.
func (st Settings) firewallName(project string) string {
	name := "ukdev-" + projectLabel(project)
	if st.Network != DefaultNetwork {
		name += "-" + st.Network
	}
	return clean(name, maxName)
}

// objectName is the tarball's name in the bucket.
func objectName(image string) string { return "ukdev/" + image + ".tar.gz" }

// resourceName returns the name of the image and instance for build: the
// family and the build number ("hello-b12"), with a counter when a
// resource of that name exists already ("hello-b12-2").
func resourceName(family string, build int, taken map[string]bool) string {
	base := fmt.Sprintf("%s-b%d", family, build)
	name := base
	for n := 2; taken[name]; n++ {
		name = fmt.Sprintf("%s-%d", base, n)
	}
	return name
}

// labelFilter is the Compute list filter of the resources labelled
// key=value.
func labelFilter(key, value string) string {
	return fmt.Sprintf("(labels.%s = %q)", key, value)
}

// buildOf returns the build number in labels, 0 when unknown.
func buildOf(labels map[string]string) int {
	n, _ := strconv.Atoi(labels[labelBuild])
	return n
}

// newestFirst sorts images by creation time, newest first, then by name.
func newestFirst(images []*compute.Image) {
	slices.SortFunc(images, func(a, b *compute.Image) int {
		if c := created(b.CreationTimestamp).Compare(created(a.CreationTimestamp)); c != 0 {
			return c
		}
		return cmp.Compare(b.Name, a.Name)
	})
}

// created parses a Compute creation timestamp (RFC 3339, in Google's
// local time, so not comparable as text); the zero time when it is not
// one.
func created(ts string) time.Time {
	t, _ := time.Parse(time.RFC3339, ts)
	return t
}

// pruned returns the names of the images to delete so that keep remain,
// the newest ones; images are the deploy's images other than the one just
// made, which counts as one of the kept. The oldest comes first.
func pruned(images []*compute.Image, keep int) []string {
	list := slices.Clone(images)
	newestFirst(list)
	var names []string
	for i, img := range list {
		if i >= keep-1 {
			names = append(names, img.Name)
		}
	}
	slices.Reverse(names)
	return names
}
