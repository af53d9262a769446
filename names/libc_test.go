//go:build cgo

package names

// In the cgo build glibc itself is the reference for the pure Go parts.
func init() {
	referenceNtop6 = libcInetNtop6
	referenceInetNetwork = libcInetNetwork
}
