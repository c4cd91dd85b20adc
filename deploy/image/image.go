// Package image builds Keyway's container images without a container
// daemon or a registry: the static binaries from `make build`, on an empty
// base holding only a CA bundle, a non-root user and writable
// directories, written as an OCI image layout that `skopeo copy`,
// `crane push` or `podman load` take as it is. The Dockerfile at the
// repository root builds the same file system with a daemon.
package image

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// UID and GID run every process of the images: distroless's "nonroot",
// so volume permissions set for one fit the other.
const (
	UID = 65532
	GID = 65532
)

// BinDir is where the binaries are installed in the images.
const BinDir = "/usr/local/bin"

// DataDir is the images' working directory, owned by UID, so the
// control plane's default ./keyway-data works in a bare `docker run`.
const DataDir = "/var/lib/keyway"

// Spec is one image.
type Spec struct {
	// Name is the image name and the ref.name annotation's repository.
	Name string
	// Entrypoint is the binary the image runs.
	Entrypoint string
	// Binaries are installed in BinDir; Entrypoint must be one of them.
	Binaries []string
	// Ports are exposed, documenting the binaries' conventional ports.
	Ports []int
	// Description is the OCI description label.
	Description string
}

// Images are Keyway's two images. The control plane's carries the keyway
// CLI too, for `kubectl exec` without a shell, and keyway-proxy, which it
// runs (as a limited child) to execute a pushed policy's test(...) cases
// with the proxy's own engines (docs/adr/0007): without it, a push with
// test cases is refused.
var Images = []Spec{
	{
		Name:        "keyway-control",
		Entrypoint:  "keyway-control",
		Binaries:    []string{"keyway-control", "keyway", "keyway-proxy"},
		Ports:       []int{7700, 9190},
		Description: "Keyway control plane: policy versions in etcd, ADS to proxies, admin API",
	},
	{
		Name:        "keyway-proxy",
		Entrypoint:  "keyway-proxy",
		Binaries:    []string{"keyway-proxy"},
		Ports:       []int{6380, 9180},
		Description: "Keyway data plane: a RESP proxy in front of Redis",
	},
}

// Options say what to build from and where to write it.
type Options struct {
	// BinDir holds the static binaries named by Images.
	BinDir string
	// CABundle is the PEM bundle installed as the system roots.
	CABundle string
	// Version, Commit and Created (RFC 3339) label the images; Created
	// also dates every file, so one input builds one digest.
	Version, Commit, Created string
	// Source is the repository URL label; empty leaves it out.
	Source string
	// Out is the OCI layout directory; it is created, or appended to.
	Out string
}

// Build writes every image of Images into the layout at o.Out and
// returns their digests by name.
func Build(o Options) (map[string]v1.Hash, error) {
	if o.BinDir == "" || o.Out == "" || o.Version == "" {
		return nil, errors.New("image: BinDir, Out and Version are required")
	}
	created := time.Unix(0, 0).UTC()
	if o.Created != "" {
		t, err := time.Parse(time.RFC3339, o.Created)
		if err != nil {
			return nil, fmt.Errorf("image: created %q: %w", o.Created, err)
		}
		created = t.UTC()
	}
	ca, err := os.ReadFile(o.CABundle)
	if err != nil {
		return nil, fmt.Errorf("image: CA bundle: %w", err)
	}
	base, err := baseLayer(ca, created)
	if err != nil {
		return nil, err
	}
	p, err := layout.FromPath(o.Out)
	if err != nil {
		if p, err = layout.Write(o.Out, empty.Index); err != nil {
			return nil, fmt.Errorf("image: create layout %s: %w", o.Out, err)
		}
	}
	out := map[string]v1.Hash{}
	for _, spec := range Images {
		img, err := build(spec, base, o, created)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", spec.Name, err)
		}
		ref := spec.Name + ":" + o.Version
		if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref})); err != nil {
			return nil, fmt.Errorf("image %s: write: %w", spec.Name, err)
		}
		if out[spec.Name], err = img.Digest(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func build(spec Spec, base v1.Layer, o Options, created time.Time) (v1.Image, error) {
	if !slices.Contains(spec.Binaries, spec.Entrypoint) {
		return nil, fmt.Errorf("entrypoint %s is not among its binaries", spec.Entrypoint)
	}
	var files []file
	for _, b := range spec.Binaries {
		data, err := os.ReadFile(filepath.Join(o.BinDir, b))
		if err != nil {
			return nil, fmt.Errorf("binary: %w", err)
		}
		files = append(files, file{name: BinDir[1:] + "/" + b, mode: 0o755, data: data})
	}
	app, err := layer(files, created)
	if err != nil {
		return nil, err
	}
	// OCI media types throughout, as an OCI layout's readers expect.
	oci := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.AppendLayers(oci, base, app)
	if err != nil {
		return nil, err
	}
	labels := map[string]string{
		"org.opencontainers.image.title":       spec.Name,
		"org.opencontainers.image.description": spec.Description,
		"org.opencontainers.image.version":     o.Version,
		"org.opencontainers.image.revision":    o.Commit,
		"org.opencontainers.image.created":     created.Format(time.RFC3339),
		"org.opencontainers.image.licenses":    "Apache-2.0",
	}
	if o.Source != "" {
		labels["org.opencontainers.image.source"] = o.Source
	}
	ports := map[string]struct{}{}
	for _, p := range spec.Ports {
		ports[strconv.Itoa(p)+"/tcp"] = struct{}{}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Created = v1.Time{Time: created}
	cf.Config = v1.Config{
		Entrypoint:   []string{BinDir + "/" + spec.Entrypoint},
		User:         strconv.Itoa(UID) + ":" + strconv.Itoa(GID),
		WorkingDir:   DataDir,
		Env:          []string{"PATH=" + BinDir, "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"},
		Labels:       labels,
		ExposedPorts: ports,
	}
	return mutate.ConfigFile(img, cf)
}

// baseLayer is what a distroless static base holds and the binaries
// need: system roots for TLS, a passwd naming the non-root user (Go's
// os/user and some tools want one), a sticky /tmp for the embedded etcd's
// sockets, and the data directory owned by that user.
func baseLayer(ca []byte, created time.Time) (v1.Layer, error) {
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:%s:/sbin/nologin\n", UID, GID, DataDir)
	group := fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", GID)
	return layer([]file{
		{name: "etc/", dir: true, mode: 0o755},
		{name: "etc/passwd", mode: 0o644, data: []byte(passwd)},
		{name: "etc/group", mode: 0o644, data: []byte(group)},
		{name: "etc/ssl/", dir: true, mode: 0o755},
		{name: "etc/ssl/certs/", dir: true, mode: 0o755},
		{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: ca},
		{name: "tmp/", dir: true, mode: 0o1777},
		{name: "usr/", dir: true, mode: 0o755},
		{name: "usr/local/", dir: true, mode: 0o755},
		{name: "usr/local/bin/", dir: true, mode: 0o755},
		{name: "var/", dir: true, mode: 0o755},
		{name: "var/lib/", dir: true, mode: 0o755},
		{name: DataDir[1:] + "/", dir: true, mode: 0o700, uid: UID, gid: GID},
	}, created)
}

type file struct {
	name     string
	dir      bool
	mode     int64
	uid, gid int
	data     []byte
}

func layer(files []file, mtime time.Time) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: f.mode, Uid: f.uid, Gid: f.gid, ModTime: mtime, Format: tar.FormatPAX}
		if f.dir {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("tar %s: %w", f.name, err)
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, fmt.Errorf("tar %s: %w", f.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
		tarball.WithMediaType(types.OCILayer))
}
