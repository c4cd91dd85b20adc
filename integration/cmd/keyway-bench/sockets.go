package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// localPortsTo returns the local ports of the established TCP
// connections process pid holds to remotePort: a proxy's upstream
// connections, told apart from other processes' connections to the same
// redis.
func localPortsTo(pid, remotePort int) (map[int]bool, error) {
	fdDir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(fdDir)
	if err != nil {
		return nil, fmt.Errorf("list fds of %d: %w", pid, err)
	}
	inodes := map[string]bool{}
	for _, e := range ents {
		link, err := os.Readlink(filepath.Join(fdDir, e.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		if ino, ok := strings.CutPrefix(link, "socket:["); ok {
			inodes[strings.TrimSuffix(ino, "]")] = true
		}
	}
	ports := map[int]bool{}
	for _, table := range []string{"tcp", "tcp6"} {
		if err := scanTCP(fmt.Sprintf("/proc/%d/net/%s", pid, table), inodes, remotePort, ports); err != nil {
			return nil, err
		}
	}
	return ports, nil
}

// scanTCP adds to ports the local port of every established connection in
// a /proc/net/tcp table whose inode is in inodes and whose remote port is
// remotePort.
func scanTCP(path string, inodes map[string]bool, remotePort int, ports map[int]bool) error {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		// sl local_address rem_address st ... inode(9)
		f := strings.Fields(sc.Text())
		if len(f) < 10 || f[3] != "01" || !inodes[f[9]] {
			continue
		}
		if hexPort(f[2]) != remotePort {
			continue
		}
		if p := hexPort(f[1]); p > 0 {
			ports[p] = true
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return nil
}

// hexPort parses the port of "0100007F:1F90".
func hexPort(addr string) int {
	_, p, ok := strings.Cut(addr, ":")
	if !ok {
		return -1
	}
	n, err := strconv.ParseInt(p, 16, 32)
	if err != nil {
		return -1
	}
	return int(n)
}

// redisSees counts the clients in redis's CLIENT LIST whose address
// port is one of ports: the connections redis itself sees from a proxy.
func redisSees(redisAddr string, ports map[int]bool) (int, error) {
	list, err := command(redisAddr, "CLIENT", "LIST")
	if err != nil {
		return 0, fmt.Errorf("client list: %w", err)
	}
	n := 0
	for line := range strings.Lines(list) {
		for _, field := range strings.Fields(line) {
			addr, ok := strings.CutPrefix(field, "addr=")
			if !ok {
				continue
			}
			i := strings.LastIndexByte(addr, ':')
			if p, err := strconv.Atoi(addr[i+1:]); err == nil && ports[p] {
				n++
			}
			break
		}
	}
	return n, nil
}
