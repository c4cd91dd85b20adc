package reload

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"keyway.dev/dataplane/xdsclient"
)

// The state file is a sequence of DiscoveryResponse messages, one per
// type URL, each as field 1 of an unnamed outer message: the wire format
// of `repeated DiscoveryResponse responses = 1`, so `protoc --decode_raw`
// can read it and no schema of our own is needed.
const stateFileName = "snapshot.pb"

func stateFile(dir string) string { return filepath.Join(dir, stateFileName) }

// save writes the accepted resources; failing to save costs only a slower
// start after a restart, so it is logged, not returned.
func (s *Snapshot) save() {
	if s.file == "" {
		return
	}
	if err := s.write(); err != nil {
		s.applier.log.Warn("cannot save the applied snapshot", "file", s.file, "err", err)
	}
}

func (s *Snapshot) write() error {
	var buf []byte
	for _, t := range TypeURLs {
		v, ok := s.versions[t]
		if !ok {
			continue
		}
		m, err := proto.MarshalOptions{Deterministic: true}.Marshal(&discovery.DiscoveryResponse{
			TypeUrl: t, VersionInfo: v, Resources: s.raw[t],
		})
		if err != nil {
			return fmt.Errorf("marshal %s: %w", t, err)
		}
		buf = protowire.AppendTag(buf, 1, protowire.BytesType)
		buf = protowire.AppendBytes(buf, m)
	}
	return writeAtomic(s.file, buf)
}

// writeAtomic replaces path with data so that a crash leaves either the
// old file or the new one, never a torn one.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create state dir: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("create temp file: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename this fails harmlessly
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename to %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // make the rename durable where the platform allows
		d.Close()
	}
	return nil
}

// Load restores the snapshot saved in the state dir and applies it. It
// reports whether a State was installed; a missing file is not an error.
// A file that cannot be read or applied is an error and installs
// nothing; the proxy then waits for the control plane.
func (s *Snapshot) Load() (bool, error) {
	if s.file == "" {
		return false, nil
	}
	data, err := os.ReadFile(s.file)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read saved snapshot: %w", err)
	}
	var responses []*discovery.DiscoveryResponse
	for len(data) > 0 {
		num, typ, n := protowire.ConsumeTag(data)
		if n < 0 || num != 1 || typ != protowire.BytesType {
			return false, fmt.Errorf("read saved snapshot %s: corrupt record", s.file)
		}
		data = data[n:]
		m, n := protowire.ConsumeBytes(data)
		if n < 0 {
			return false, fmt.Errorf("read saved snapshot %s: truncated record", s.file)
		}
		data = data[n:]
		r := &discovery.DiscoveryResponse{}
		if err := proto.Unmarshal(m, r); err != nil {
			return false, fmt.Errorf("read saved snapshot %s: %w", s.file, err)
		}
		responses = append(responses, r)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	// The file holds one applied version, its ProxyConfig first: the
	// ProxyConfig is held until its Domains arrive.
	defer func() { clear(s.held); clear(s.settled) }()
	for _, r := range responses {
		err := s.accept(r.GetTypeUrl(), r.GetVersionInfo(), r.GetResources())
		if err != nil && !errors.Is(err, xdsclient.ErrHeld) {
			// Claim no version, so the control plane sends everything.
			clear(s.versions)
			return false, fmt.Errorf("apply saved snapshot %s: %w", s.file, err)
		}
	}
	return s.applier.Current().Load() != nil, nil
}
