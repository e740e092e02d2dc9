/*
 * Guest program of tests/hosts/v86/caif_test.ts, built with gcc -m32 -static
 * at test time: raw CAIF frames over caif_virtio's net device (cfvrt), both
 * ways, through a packet socket.
 *
 *   caif_raw IFNAME FRAME   sends FRAME (a string) on IFNAME, then prints
 *                           "got <len> <hex>" for the first frame that comes
 *                           in (not our own outgoing copy), or "timeout".
 */
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#ifndef ETH_P_ALL
#define ETH_P_ALL 0x0003
#endif
#define ETH_P_CAIF 0x00F7

int main(int argc, char **argv)
{
	struct sockaddr_ll sll;
	struct timeval tv = { .tv_sec = 20 };
	unsigned char buf[8192];
	int s, ifindex;

	if (argc != 3) {
		fprintf(stderr, "usage: caif_raw IFNAME FRAME\n");
		return 2;
	}
	ifindex = if_nametoindex(argv[1]);
	if (ifindex == 0) {
		perror("if_nametoindex");
		return 1;
	}
	s = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	if (s < 0) {
		perror("socket");
		return 1;
	}
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = ifindex;
	if (bind(s, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		perror("bind");
		return 1;
	}
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	sll.sll_protocol = htons(ETH_P_CAIF);
	if (sendto(s, argv[2], strlen(argv[2]), 0, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		perror("sendto");
		return 1;
	}
	printf("sent %zu\n", strlen(argv[2]));
	fflush(stdout);
	for (;;) {
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(s, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);

		if (n < 0) {
			printf("timeout\n");
			return 1;
		}
		if (from.sll_pkttype == PACKET_OUTGOING)
			continue;
		printf("got %zd proto %04x ", n, ntohs(from.sll_protocol));
		for (ssize_t i = 0; i < n; i++)
			printf("%02x", buf[i]);
		printf("\n");
		return 0;
	}
}
