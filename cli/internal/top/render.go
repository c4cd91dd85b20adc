package top

import (
	"fmt"
	"io"

	"keyway.dev/cli/internal/output"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// render writes one frame of the table view.
func render(w io.Writer, target string, o *options, resp *keywayv1.TopResponse) error {
	title := "fleet"
	if o.domain != "" {
		title = "domain " + o.domain
	}
	fmt.Fprintf(w, "keyway top  %s  %s  window %.0fs  %s\n\n", target, title, resp.GetWindowSeconds(),
		output.Stamp(output.TimeOf(resp.GetTime())))
	if len(resp.GetDomains()) == 0 {
		if o.domain != "" {
			fmt.Fprintf(w, "no traffic for domain %q in the window\n", o.domain)
		} else {
			fmt.Fprintln(w, "no traffic reported in the window")
		}
	} else {
		tw := output.NewTable(w, "DOMAIN", "QPS", "ERR%", "P50", "P99", "IN", "OUT", "CONNS")
		for _, d := range resp.GetDomains() {
			output.Row(tw, append(append([]string{d.GetDomain()}, trafficCells(d.GetTraffic())...), fmt.Sprint(d.GetConnections()))...)
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("write table: %w", err)
		}
	}
	if o.domain != "" {
		for _, d := range resp.GetDomains() {
			if err := drill(w, d, resp.GetWindowSeconds()); err != nil {
				return err
			}
		}
		return nil
	}
	return nodes(w, resp.GetNodes())
}

// trafficCells are the QPS, ERR%, P50, P99, IN and OUT columns.
func trafficCells(t *keywayv1.Traffic) []string {
	n := t.GetRequests()
	// Bytes are totals over the window; the QPS/requests ratio turns them
	// into rates over the same span the control plane used for QPS.
	perSec := 0.0
	if n > 0 {
		perSec = t.GetQps() / float64(n)
	}
	return []string{
		rate(t.GetQps()),
		percent(t.GetErrorRate(), n),
		latency(t.GetP50Seconds(), n),
		latency(t.GetP99Seconds(), n),
		bytesRate(float64(t.GetRequestBytes()) * perSec),
		bytesRate(float64(t.GetReplyBytes()) * perSec),
	}
}

// drill writes a domain's commands, tracks, near caches and hot keys.
func drill(w io.Writer, d *keywayv1.DomainTop, window float64) error {
	if len(d.GetCommands()) > 0 {
		fmt.Fprintln(w)
		tw := output.NewTable(w, "COMMAND", "QPS", "ERR%", "P50", "P99", "IN", "OUT", "ERRORS")
		for _, c := range d.GetCommands() {
			output.Row(tw, append(append([]string{c.GetCommand()}, trafficCells(c.GetTraffic())...), errorKinds(c.GetTraffic()))...)
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("write table: %w", err)
		}
	}
	if len(d.GetTracks()) > 1 {
		fmt.Fprintln(w)
		tw := output.NewTable(w, "TRACK", "QPS", "ERR%", "P50", "P99", "IN", "OUT")
		for _, t := range d.GetTracks() {
			output.Row(tw, append([]string{output.Dash(t.GetTrack())}, trafficCells(t.GetTraffic())...)...)
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("write table: %w", err)
		}
	}
	if err := nearCache(w, d.GetNearCache(), window); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if len(d.GetHotKeys()) == 0 {
		fmt.Fprintln(w, "no hot keys sampled in the window")
		return nil
	}
	tw := output.NewTable(w, "HOT KEY", "REQUESTS (EST.)")
	for _, k := range d.GetHotKeys() {
		output.Row(tw, output.Truncate(k.GetKey(), 64), fmt.Sprint(k.GetCount()))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

// errorKinds lists non-zero error counts by kind: "timeout=3 upstream=1".
func errorKinds(t *keywayv1.Traffic) string {
	kinds := []string{"upstream", "timeout", "refused", "proxy"}
	s := ""
	for _, k := range kinds {
		if n := t.GetErrorsByKind()[k]; n > 0 {
			if s != "" {
				s += " "
			}
			s += fmt.Sprintf("%s=%d", k, n)
		}
	}
	return output.Dash(s)
}

// nodes writes the per-proxy rows below the fleet table.
func nodes(w io.Writer, ns []*keywayv1.NodeTop) error {
	if len(ns) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	tw := output.NewTable(w, "NODE", "QPS", "CONNS", "LAST REPORT", "FOLDED")
	for _, n := range ns {
		output.Row(tw, n.GetNodeId(), rate(n.GetQps()), fmt.Sprint(n.GetConnections()),
			output.Stamp(output.TimeOf(n.GetLastReport())), fmt.Sprint(n.GetFoldedIntervals()))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

// nearCache writes a domain's near cache row: the hit ratio over the
// window and its events as rates; nothing for a domain without one.
func nearCache(w io.Writer, nc *keywayv1.NearCacheTop, window float64) error {
	if nc == nil {
		return nil
	}
	per := func(n uint64) string {
		if window <= 0 {
			return "-"
		}
		return rate(float64(n) / window)
	}
	fmt.Fprintln(w)
	tw := output.NewTable(w, "NEAR CACHE", "HIT%", "HITS/S", "MISSES/S", "COALESCED/S", "INVALIDATED/S", "EVICTED/S", "HELD")
	output.Row(tw, "all", percent(nc.GetHitRatio(), nc.GetHits()+nc.GetMisses()), per(nc.GetHits()), per(nc.GetMisses()),
		per(nc.GetCoalesced()), per(nc.GetInvalidations()), per(nc.GetEvictions()), size(nc.GetBytes()))
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}
