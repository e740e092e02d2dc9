/*
 * Guest program of tests/hosts/v86/caif_test.ts, built with gcc -m32 -static
 * at test time: a CAIF socket (AF_CAIF, CAIFPROTO_AT) to the modem, through
 * Linux's CAIF stack and caif_virtio.
 *
 *   caif_at LINE...   connects (the modem answers the link setup on the CAIF
 *                     control channel), sends each LINE as one message and
 *                     prints "got <reply>" for each reply.
 */
#include <linux/caif/caif_socket.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef AF_CAIF
#define AF_CAIF 37
#endif

int main(int argc, char **argv)
{
	struct sockaddr_caif addr;
	char buf[4096];
	int s, i;

	alarm(30);
	s = socket(AF_CAIF, SOCK_SEQPACKET, CAIFPROTO_AT);
	if (s < 0) {
		perror("socket");
		return 1;
	}
	memset(&addr, 0, sizeof(addr));
	addr.family = AF_CAIF;
	addr.u.at.type = CAIF_ATTYPE_PLAIN;
	if (connect(s, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		perror("connect");
		return 1;
	}
	printf("connected\n");
	for (i = 1; i < argc; i++) {
		ssize_t n;

		if (send(s, argv[i], strlen(argv[i]), 0) < 0) {
			perror("send");
			return 1;
		}
		n = recv(s, buf, sizeof(buf) - 1, 0);
		if (n < 0) {
			perror("recv");
			return 1;
		}
		buf[n] = 0;
		printf("got %s\n", buf);
	}
	close(s);
	return 0;
}
