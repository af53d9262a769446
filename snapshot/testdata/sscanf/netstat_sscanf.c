/*
 * netstat_sscanf: the reference the Go parsers are checked against.
 *
 * It reads a socket table from stdin exactly as net-tools 2.10 netstat does
 * (fgets into an 8192-byte buffer, line 0 is the header) and, for every
 * piece fgets returns, prints what tcp_do_one / unix_do_one's sscanf stored.
 * Variables netstat leaves uninitialised are zeroed first (the Go parser
 * documents zero for them). Build and regenerate the golden files with
 *
 *   cc -O2 -o /tmp/netstat_sscanf netstat_sscanf.c
 *   /tmp/netstat_sscanf inet < inet.txt > inet.golden
 *   /tmp/netstat_sscanf unix < unix.txt > unix.golden
 *
 * (glibc 2.36, x86_64: the machine the spec was captured on).
 */
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>

static void inet_line(int lnr, const char *line)
{
	unsigned long rxq = 0, txq = 0, time_len = 0, retr = 0, inode = 0;
	int num, local_port = 0, rem_port = 0, d = 0, state = 0, uid = 0, timer_run = 0, timeout = 0;
	char rem_addr[128] = "", local_addr[128] = "";
	struct in6_addr in6;
	unsigned char l[16], r[16];
	int i, n;

	num = sscanf(line,
	    "%d: %64[0-9A-Fa-f]:%X %64[0-9A-Fa-f]:%X %X %lX:%lX %X:%lX %lX %d %d %lu %*s\n",
	    &d, local_addr, &local_port, rem_addr, &rem_port, &state,
	    &txq, &rxq, &timer_run, &time_len, &retr, &uid, &timeout, &inode);
	printf("%d n=%d", lnr, num);
	if (num < 10) {
		printf("\n");
		return;
	}
	memset(&in6, 0, sizeof(in6));
	if (strlen(local_addr) > 8) {
		sscanf(local_addr, "%08X%08X%08X%08X",
		    &in6.s6_addr32[0], &in6.s6_addr32[1], &in6.s6_addr32[2], &in6.s6_addr32[3]);
		memcpy(l, &in6, 16);
		sscanf(rem_addr, "%08X%08X%08X%08X",
		    &in6.s6_addr32[0], &in6.s6_addr32[1], &in6.s6_addr32[2], &in6.s6_addr32[3]);
		memcpy(r, &in6, 16);
		n = 16;
	} else {
		unsigned int a = 0, b = 0;
		sscanf(local_addr, "%X", &a);
		sscanf(rem_addr, "%X", &b);
		memcpy(l, &a, 4);
		memcpy(r, &b, 4);
		n = 4;
	}
	printf(" local=");
	for (i = 0; i < n; i++)
		printf("%02x", l[i]);
	printf(":%u remote=", (unsigned short)local_port);
	for (i = 0; i < n; i++)
		printf("%02x", r[i]);
	printf(":%u st=%u txq=%lu rxq=%lu tr=%d when=%lu retr=%lu uid=%d timeout=%d inode=%lu\n",
	    (unsigned short)rem_port, (unsigned)state > 255 ? 255 : (unsigned)state,
	    txq, rxq, timer_run, time_len, retr, uid, timeout, inode);
}

static void unix_line(int lnr, const char *line)
{
	static int has = 0;
	char path[8192];
	int num, state = 0, type = 0;
	void *d;
	unsigned long refcnt = 0, proto = 0, flags = 0, inode = 0;

	if (lnr == 0) {
		if (strstr(line, "Inode"))
			has = 1;
		printf("0 has=%d\n", has);
		return;
	}
	path[0] = '\0';
	num = sscanf(line, "%p: %lX %lX %lX %X %X %lu %s",
	    &d, &refcnt, &proto, &flags, &type, &state, &inode, path);
	printf("%d n=%d", lnr, num);
	if (num < 6) {
		printf("\n");
		return;
	}
	printf(" ref=%lu proto=%lu flags=%lu type=%u st=%u inode=%lu path=%s\n",
	    refcnt, proto, flags, (unsigned)type, (unsigned)state > 255 ? 255 : (unsigned)state,
	    inode, path);
}

int main(int argc, char **argv)
{
	char buffer[8192];
	int lnr = 0, is_unix = argc > 1 && strcmp(argv[1], "unix") == 0;

	do {
		if (fgets(buffer, sizeof(buffer), stdin)) {
			if (is_unix)
				unix_line(lnr, buffer);
			else if (lnr > 0)
				inet_line(lnr, buffer);
			lnr++;
		}
	} while (!feof(stdin));
	return 0;
}
