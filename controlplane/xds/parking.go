package xds

import (
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"google.golang.org/protobuf/proto"
)

// parking wraps the snapshot cache so that nothing is sent twice.
//
// A NACK carries the last version the proxy accepted, so the cache would
// answer it at once with the version just refused, in a tight loop
// (go-control-plane issue #962). Presenting the NACK as if the proxy were
// at the refused version parks the watch until the snapshot changes.
//
// A proxy reconnecting with the version it runs is, on a fresh stream,
// resent everything, because the cache only trusts what this stream has
// returned. Versions are content hashes, so a matching version means the
// proxy has exactly these resources and the watch can wait.
type parking struct {
	cachev3.SnapshotCache
	tracker *Tracker
}

// CreateWatch opens the watch, as of the rejected version for a NACK and
// as of the proxy's resources for a resumed stream.
func (p parking) CreateWatch(req *cachev3.Request, sub cachev3.Subscription, ch chan cachev3.Response) (func(), error) {
	if v, ok := p.tracker.takeParked(req); ok {
		req = proto.Clone(req).(*cachev3.Request)
		req.VersionInfo = v
	} else if req.GetResponseNonce() == "" && req.GetVersionInfo() != "" {
		sub = p.resumed(req, sub)
	}
	return p.SnapshotCache.CreateWatch(req, sub, ch)
}

// resumed returns sub as if it had already returned the snapshot's
// resources, when req claims the snapshot's version.
func (p parking) resumed(req *cachev3.Request, sub cachev3.Subscription) cachev3.Subscription {
	snap, err := p.GetSnapshot(nodeHash)
	if err != nil || snap.GetVersion(req.GetTypeUrl()) != req.GetVersionInfo() {
		return sub
	}
	known := make(map[string]string, len(snap.GetResources(req.GetTypeUrl())))
	for name := range snap.GetResources(req.GetTypeUrl()) {
		known[name] = req.GetVersionInfo()
	}
	return knownSubscription{Subscription: sub, known: known}
}

// knownSubscription is a subscription that reports the given resources as
// already returned.
type knownSubscription struct {
	cachev3.Subscription
	known map[string]string
}

// ReturnedResources reports the resources the proxy already has.
func (k knownSubscription) ReturnedResources() map[string]string { return k.known }
