//go:build cgo

package names

/*
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

// Each helper returns a malloc'd copy of the one name netstat uses, or NULL
// when there is none; the caller frees it. Scratch buffers for the _r
// functions start small, double on ERANGE up to bn_maxbuf, and are freed
// before returning, so Go never holds C memory beyond one C.free.

enum { bn_maxbuf = 1 << 24 };

static char *bn_host4(const unsigned char *addr) {
	size_t len = 1024;
	char *buf = NULL, *name = NULL;
	for (;;) {
		char *nbuf = realloc(buf, len);
		if (nbuf == NULL)
			break;
		buf = nbuf;
		struct hostent he, *res = NULL;
		int herr = 0;
		int rc = gethostbyaddr_r(addr, 4, AF_INET, &he, buf, len, &res, &herr);
		if (rc == ERANGE && len < bn_maxbuf) {
			len *= 2;
			continue;
		}
		if (rc == 0 && res != NULL && res->h_name != NULL)
			name = strdup(res->h_name);
		break;
	}
	free(buf);
	return name;
}

static char *bn_net4(uint32_t net) {
	size_t len = 1024;
	char *buf = NULL, *name = NULL;
	for (;;) {
		char *nbuf = realloc(buf, len);
		if (nbuf == NULL)
			break;
		buf = nbuf;
		struct netent ne, *res = NULL;
		int herr = 0;
		int rc = getnetbyaddr_r(net, AF_INET, &ne, buf, len, &res, &herr);
		if (rc == ERANGE && len < bn_maxbuf) {
			len *= 2;
			continue;
		}
		if (rc == 0 && res != NULL && res->n_name != NULL)
			name = strdup(res->n_name);
		break;
	}
	free(buf);
	return name;
}

// bn_host6 is INET6_rresolve's getnameinfo call; on success the text is a
// name or, when there is none, the numeric form getnameinfo falls back to.
static char *bn_host6(const unsigned char *addr) {
	struct sockaddr_in6 sin6;
	char host[NI_MAXHOST];
	memset(&sin6, 0, sizeof sin6);
	sin6.sin6_family = AF_INET6;
	memcpy(&sin6.sin6_addr, addr, 16);
	if (getnameinfo((const struct sockaddr *)&sin6, sizeof sin6, host, sizeof host, NULL, 0, 0) != 0)
		return NULL;
	return strdup(host);
}

static char *bn_user(uid_t uid) {
	size_t len = 1024;
	char *buf = NULL, *name = NULL;
	for (;;) {
		char *nbuf = realloc(buf, len);
		if (nbuf == NULL)
			break;
		buf = nbuf;
		struct passwd pw, *res = NULL;
		int rc = getpwuid_r(uid, &pw, buf, len, &res);
		if (rc == ERANGE && len < bn_maxbuf) {
			len *= 2;
			continue;
		}
		if (rc == 0 && res != NULL && res->pw_name != NULL)
			name = strdup(res->pw_name);
		break;
	}
	free(buf);
	return name;
}

// bn_ntop6 and inet_network are used by tests to check FormatIPv6 and
// inetNetwork against glibc.
static int bn_ntop6(const unsigned char *addr, char *dst, socklen_t len) {
	return inet_ntop(AF_INET6, addr, dst, len) != NULL;
}
*/
import "C"

import (
	"encoding/binary"
	"sync"
	"unsafe"
)

// takeName converts a string from one of the bn_ helpers and frees it.
func takeName(p *C.char) (string, bool) {
	if p == nil {
		return "", false
	}
	defer C.free(unsafe.Pointer(p))
	return C.GoString(p), true
}

func sysHost4(b [4]byte) (string, bool) {
	return takeName(C.bn_host4((*C.uchar)(unsafe.Pointer(&b[0]))))
}

func sysNet4(net uint32) (string, bool) {
	return takeName(C.bn_net4(C.uint32_t(net)))
}

// sysHost6 is getnameinfo's answer, name or numeric text; false only when
// getnameinfo fails.
func sysHost6(b [16]byte) (string, bool) {
	return takeName(C.bn_host6((*C.uchar)(unsafe.Pointer(&b[0]))))
}

func sysUser(uid uint32) (string, bool) {
	return takeName(C.bn_user(C.uid_t(uid)))
}

// entMu serialises the set/get/end*ent iterations: their position is
// process-wide state in glibc.
var entMu sync.Mutex

// sysReadServices is read_services: every getservent entry, then every
// getprotoent entry, in the order glibc returns them.
func sysReadServices(db *serviceDB) {
	entMu.Lock()
	defer entMu.Unlock()

	C.setservent(1)
	for {
		se := C.getservent()
		if se == nil {
			break
		}
		// s_port holds the port in network byte order in its low 16 bits.
		var port [2]byte
		binary.NativeEndian.PutUint16(port[:], uint16(se.s_port))
		db.addService(C.GoString(se.s_name), C.GoString(se.s_proto), binary.BigEndian.Uint16(port[:]))
	}
	C.endservent()

	C.setprotoent(1)
	for {
		pe := C.getprotoent()
		if pe == nil {
			break
		}
		db.addProtocol(C.GoString(pe.p_name), uint16(pe.p_proto))
	}
	C.endprotoent()
}

// libcInetNtop6 is glibc's inet_ntop(AF_INET6), the reference FormatIPv6
// is tested against.
func libcInetNtop6(b [16]byte) string {
	var buf [C.INET6_ADDRSTRLEN]C.char
	if C.bn_ntop6((*C.uchar)(unsafe.Pointer(&b[0])), &buf[0], C.socklen_t(len(buf))) == 0 {
		return ""
	}
	return C.GoString(&buf[0])
}

// libcInetNetwork is glibc's inet_network, the reference inetNetwork is
// tested against.
func libcInetNetwork(s string) uint32 {
	cs := C.CString(s)
	defer C.free(unsafe.Pointer(cs))
	return uint32(C.inet_network(cs))
}
