package image_test

import (
	"archive/tar"
	"debug/elf"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"keyway.dev/deploy/image"
	"keyway.dev/deploy/internal/buildtest"
)

// The images built without a daemon run their binary as a non-root user,
// carry the OCI labels, hold static binaries stamped with the version,
// and are reproducible.
func TestBuildOCILayout(t *testing.T) {
	// With KEYWAY_STATIC_BIN (make test-deploy) the binaries are make's;
	// the images are labelled with the version they report, as `make
	// image` does.
	bin := buildtest.Binaries(t, "v9.9.9-test")
	version := stampedVersion(t, filepath.Join(bin, "keyway-proxy"))
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, []byte("-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "oci")
	opts := image.Options{BinDir: bin, CABundle: ca, Version: version, Commit: "0123456789abcdef", Created: "2026-12-06T00:00:00Z", Out: out}
	digests, err := image.Build(opts)
	if err != nil {
		t.Fatal(err)
	}

	p, err := layout.FromPath(out)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != len(image.Images) {
		t.Fatalf("layout holds %d images, want %d", len(im.Manifests), len(image.Images))
	}
	for i, spec := range image.Images {
		desc := im.Manifests[i]
		if got := desc.Annotations["org.opencontainers.image.ref.name"]; got != spec.Name+":"+version {
			t.Errorf("ref.name %q, want %s:%s", got, spec.Name, version)
		}
		if desc.Digest != digests[spec.Name] {
			t.Errorf("%s: digest %s in the index, %s returned", spec.Name, desc.Digest, digests[spec.Name])
		}
		img, err := p.Image(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		if desc.MediaType != types.OCIManifestSchema1 {
			t.Errorf("%s: manifest media type %s, want OCI's", spec.Name, desc.MediaType)
		}
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		if m.Config.MediaType != types.OCIConfigJSON {
			t.Errorf("%s: config media type %s, want OCI's", spec.Name, m.Config.MediaType)
		}
		for _, l := range m.Layers {
			if l.MediaType != types.OCILayer {
				t.Errorf("%s: layer media type %s, want OCI's", spec.Name, l.MediaType)
			}
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		c := cf.Config
		if want := "/usr/local/bin/" + spec.Entrypoint; len(c.Entrypoint) != 1 || c.Entrypoint[0] != want {
			t.Errorf("%s: entrypoint %v, want [%s]", spec.Name, c.Entrypoint, want)
		}
		if c.User != "65532:65532" {
			t.Errorf("%s: user %q, want 65532:65532 (non-root, numeric so runAsNonRoot can verify it)", spec.Name, c.User)
		}
		if len(c.Cmd) != 0 {
			t.Errorf("%s: cmd %v, want none", spec.Name, c.Cmd)
		}
		if cf.OS != "linux" || cf.Architecture != runtime.GOARCH {
			t.Errorf("%s: platform %s/%s", spec.Name, cf.OS, cf.Architecture)
		}
		for k, want := range map[string]string{
			"org.opencontainers.image.title":    spec.Name,
			"org.opencontainers.image.version":  version,
			"org.opencontainers.image.revision": "0123456789abcdef",
			"org.opencontainers.image.created":  "2026-12-06T00:00:00Z",
		} {
			if c.Labels[k] != want {
				t.Errorf("%s: label %s = %q, want %q", spec.Name, k, c.Labels[k], want)
			}
		}

		// The file system: no shell, the binaries static, the CA bundle
		// and a sticky /tmp present.
		files := flatten(t, img)
		for _, must := range []string{"etc/ssl/certs/ca-certificates.crt", "etc/passwd", "tmp", "var/lib/keyway"} {
			if _, ok := files[must]; !ok {
				t.Errorf("%s: no %s", spec.Name, must)
			}
		}
		if h := files["tmp"]; h != nil && h.Mode&0o1777 != 0o1777 {
			t.Errorf("%s: /tmp mode %o, want 1777", spec.Name, h.Mode)
		}
		if h := files["var/lib/keyway"]; h != nil && (h.Uid != 65532 || h.Gid != 65532) {
			t.Errorf("%s: /var/lib/keyway owned by %d:%d", spec.Name, h.Uid, h.Gid)
		}
		for name := range files {
			if strings.HasPrefix(name, "bin/") || name == "bin/sh" || strings.HasSuffix(name, "/sh") {
				t.Errorf("%s: holds %s; the images have no shell", spec.Name, name)
			}
		}
		for _, b := range spec.Binaries {
			h, ok := files["usr/local/bin/"+b]
			if !ok {
				t.Fatalf("%s: no /usr/local/bin/%s", spec.Name, b)
			}
			if h.Mode&0o111 == 0 {
				t.Errorf("%s: %s not executable", spec.Name, b)
			}
			f, err := elf.Open(filepath.Join(bin, b))
			if err != nil {
				t.Fatal(err)
			}
			for _, prog := range f.Progs {
				if prog.Type == elf.PT_INTERP {
					t.Errorf("%s is dynamically linked; the images have no libc", b)
				}
			}
			f.Close()
		}
	}

	// One input, one digest.
	again, err := image.Build(image.Options{BinDir: bin, CABundle: ca, Version: version, Commit: "0123456789abcdef", Created: "2026-12-06T00:00:00Z", Out: filepath.Join(t.TempDir(), "oci")})
	if err != nil {
		t.Fatal(err)
	}
	for n, d := range digests {
		if again[n] != d {
			t.Errorf("%s: rebuilt as %s, first %s", n, again[n], d)
		}
	}
}

// stampedVersion is the version a binary's --version reports, which must
// be stamped: not "dev", with a commit and a build date.
func stampedVersion(t *testing.T, bin string) string {
	t.Helper()
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("%s --version: %v", bin, err)
	}
	// "keyway-proxy v1.2.3 (commit abc…, built 2026-…, go1.26)"
	f := strings.Fields(string(out))
	if len(f) < 4 || f[1] == "dev" || !strings.Contains(string(out), "(commit ") || strings.Contains(string(out), "(commit -") || !strings.Contains(string(out), "built 2") {
		t.Fatalf("%s --version = %q: not stamped with version, commit and date", filepath.Base(bin), out)
	}
	return f[1]
}

// flatten reads the headers of the image's flattened file system.
func flatten(t *testing.T, img v1.Image) map[string]*tar.Header {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	out := map[string]*tar.Header{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("read image file system: %v", err)
		}
		out[strings.TrimSuffix(h.Name, "/")] = h
	}
}

func TestBuildRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opts image.Options
		want string
	}{
		{"no version", image.Options{BinDir: dir, Out: dir, CABundle: ca}, "required"},
		{"missing binaries", image.Options{BinDir: dir, Out: filepath.Join(dir, "o"), CABundle: ca, Version: "v1"}, "binary:"},
		{"missing CA", image.Options{BinDir: dir, Out: filepath.Join(dir, "o"), CABundle: filepath.Join(dir, "none"), Version: "v1"}, "CA bundle"},
		{"bad date", image.Options{BinDir: dir, Out: filepath.Join(dir, "o"), CABundle: ca, Version: "v1", Created: "yesterday"}, "created"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := image.Build(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
