//go:build !cgo

package names

import (
	"io"
	"net/netip"
	"os"
)

// Without cgo there is no glibc to ask, so every database is its file, read
// with the files module's rules (files.go). This is what nsswitch "files"
// alone would answer: no DNS (so no PTR names, and no timeouts either), no
// systemd or other passwd sources, no nscd.
const (
	hostsPath     = "/etc/hosts"
	networksPath  = "/etc/networks"
	servicesPath  = "/etc/services"
	protocolsPath = "/etc/protocols"
	passwdPath    = "/etc/passwd"
)

// lookupIn opens path and runs lookup on it; a missing or unreadable file
// answers nothing, as it does for glibc.
func lookupIn(path string, lookup func(io.Reader) (string, bool, error)) (string, bool) {
	f, err := os.Open(path)
	if err != nil {
		return "", false
	}
	defer f.Close()
	name, found, err := lookup(f)
	if err != nil {
		return "", false
	}
	return name, found
}

func sysHost4(b [4]byte) (string, bool) {
	return lookupIn(hostsPath, func(r io.Reader) (string, bool, error) {
		return hostsLookup(r, netip.AddrFrom4(b))
	})
}

func sysNet4(net uint32) (string, bool) {
	return lookupIn(networksPath, func(r io.Reader) (string, bool, error) {
		return networksLookup(r, net)
	})
}

// sysHost6 only ever reports a name: the numeric fallback getnameinfo would
// write is made by the caller.
func sysHost6(b [16]byte) (string, bool) {
	return lookupIn(hostsPath, func(r io.Reader) (string, bool, error) {
		return hostsLookup(r, netip.AddrFrom16(b))
	})
}

// sysReadServices fills db from the services file, then the protocols file.
// A file that is missing or fails halfway contributes what was read, as a
// getservent loop that ends early does.
func sysReadServices(db *serviceDB) {
	if f, err := os.Open(servicesPath); err == nil {
		_ = readServicesFile(f, db.addService)
		f.Close()
	}
	if f, err := os.Open(protocolsPath); err == nil {
		_ = readProtocolsFile(f, db.addProtocol)
		f.Close()
	}
}

func sysUser(uid uint32) (string, bool) {
	return lookupIn(passwdPath, func(r io.Reader) (string, bool, error) {
		return passwdLookup(r, uid)
	})
}
