package image_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"keyway.dev/deploy/image"
	"keyway.dev/deploy/internal/buildtest"
)

// The Dockerfile (which no test here can run: no daemon) builds what the
// daemonless builder does: per image the same entrypoint, binaries,
// non-root user, working directory and exposed ports.
func TestDockerfileMatchesBuilder(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(buildtest.Root(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	stages := map[string]string{}
	var name string
	for _, line := range strings.Split(string(b), "\n") {
		if m := regexp.MustCompile(`^FROM \S+ AS (\S+)`).FindStringSubmatch(line); m != nil {
			name = m[1]
		}
		stages[name] += line + "\n"
	}
	base := stages["base"]
	for _, want := range []string{"FROM scratch AS base", "USER " + strconv.Itoa(image.UID) + ":" + strconv.Itoa(image.GID), "WORKDIR " + image.DataDir} {
		if !strings.Contains(base, want) {
			t.Errorf("base stage lacks %q", want)
		}
	}
	for spec, stage := range map[string]string{"keyway-control": "control", "keyway-proxy": "proxy"} {
		i := slices.IndexFunc(image.Images, func(s image.Spec) bool { return s.Name == spec })
		if i < 0 {
			t.Fatalf("builder has no %s", spec)
		}
		s, body := image.Images[i], stages[stage]
		if body == "" {
			t.Fatalf("Dockerfile has no stage %s", stage)
		}
		if want := `ENTRYPOINT ["` + image.BinDir + "/" + s.Entrypoint + `"]`; !strings.Contains(body, want) {
			t.Errorf("stage %s lacks %s", stage, want)
		}
		for _, bin := range s.Binaries {
			if !strings.Contains(body, "/src/bin/"+bin+" ") {
				t.Errorf("stage %s does not copy %s", stage, bin)
			}
		}
		var ports []string
		for _, p := range s.Ports {
			ports = append(ports, strconv.Itoa(p))
		}
		if want := "EXPOSE " + strings.Join(ports, " "); !strings.Contains(body, want) {
			t.Errorf("stage %s lacks %q", stage, want)
		}
		if !strings.Contains(body, `org.opencontainers.image.title="`+s.Name+`"`) {
			t.Errorf("stage %s lacks its title label", stage)
		}
	}
}
