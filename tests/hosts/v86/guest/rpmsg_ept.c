/*
 * A guest program for the v86 rpmsg test (tests/hosts/v86/rpmsg_test.ts),
 * built at test time with `gcc -m32 -static`. It drives Linux's rpmsg_char
 * and rpmsg_ctrl through their user API (include/uapi/linux/rpmsg.h):
 *
 *   rpmsg_ept new CTRL NAME SRC DST   RPMSG_CREATE_EPT_IOCTL on CTRL
 *                                     (/dev/rpmsg_ctrl0); prints the
 *                                     /dev/rpmsgN it made
 *   rpmsg_ept find NAME               prints the /dev/rpmsgN whose name is NAME
 *   rpmsg_ept xfer DEV MSG N          opens DEV (the endpoint exists while it
 *                                     is open), writes MSG as one message,
 *                                     then reads N messages (10 s each) and
 *                                     prints each as "got:<bytes>"
 *   rpmsg_ept destroy DEV             RPMSG_DESTROY_EPT_IOCTL on DEV
 *
 * Exits non-zero with a message on any failure.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/rpmsg.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int fail(const char *what) {
	fprintf(stderr, "rpmsg_ept: %s: %s\n", what, strerror(errno));
	return 1;
}

static int read_attr(const char *dev, const char *attr, char *out, size_t size) {
	char path[300];
	snprintf(path, sizeof path, "/sys/class/rpmsg/%s/%s", dev, attr);
	FILE *f = fopen(path, "r");
	if (!f) return -1;
	if (!fgets(out, (int)size, f)) out[0] = 0;
	fclose(f);
	out[strcspn(out, "\n")] = 0;
	return 0;
}

/* The rpmsgN (not rpmsg_ctrlN) whose attributes match; NULL when none. */
static const char *find(const char *name, const char *src) {
	static char found[300];
	DIR *d = opendir("/sys/class/rpmsg");
	struct dirent *e;
	if (!d) return NULL;
	found[0] = 0;
	while ((e = readdir(d)) != NULL) {
		char v[64];
		if (strncmp(e->d_name, "rpmsg", 5) || !strncmp(e->d_name, "rpmsg_ctrl", 10)) continue;
		if (read_attr(e->d_name, "name", v, sizeof v) || strcmp(v, name)) continue;
		if (src && (read_attr(e->d_name, "src", v, sizeof v) || strcmp(v, src))) continue;
		snprintf(found, sizeof found, "/dev/%s", e->d_name);
	}
	closedir(d);
	return found[0] ? found : NULL;
}

int main(int argc, char **argv) {
	if (argc == 6 && !strcmp(argv[1], "new")) {
		struct rpmsg_endpoint_info info;
		memset(&info, 0, sizeof info);
		strncpy(info.name, argv[3], sizeof info.name - 1);
		info.src = (unsigned)strtoul(argv[4], NULL, 0);
		info.dst = (unsigned)strtoul(argv[5], NULL, 0);
		int fd = open(argv[2], O_RDWR);
		if (fd < 0) return fail(argv[2]);
		if (ioctl(fd, RPMSG_CREATE_EPT_IOCTL, &info) < 0) return fail("RPMSG_CREATE_EPT_IOCTL");
		close(fd);
		char src[16];
		snprintf(src, sizeof src, "%d", (int)info.src);
		const char *dev = find(argv[3], src);
		if (!dev) {
			fprintf(stderr, "rpmsg_ept: no /sys/class/rpmsg entry for %s\n", argv[3]);
			return 1;
		}
		printf("%s\n", dev);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "find")) {
		const char *dev = find(argv[2], NULL);
		if (!dev) {
			fprintf(stderr, "rpmsg_ept: no /sys/class/rpmsg entry for %s\n", argv[2]);
			return 1;
		}
		printf("%s\n", dev);
		return 0;
	}
	if (argc == 5 && !strcmp(argv[1], "xfer")) {
		int fd = open(argv[2], O_RDWR);
		if (fd < 0) return fail(argv[2]);
		size_t len = strlen(argv[3]);
		if (write(fd, argv[3], len) != (ssize_t)len) return fail("write");
		for (int i = 0, n = atoi(argv[4]); i < n; i++) {
			struct pollfd p = { .fd = fd, .events = POLLIN };
			if (poll(&p, 1, 10000) != 1) {
				fprintf(stderr, "rpmsg_ept: no message %d within 10 s\n", i);
				return 1;
			}
			char buf[600];
			ssize_t got = read(fd, buf, sizeof buf - 1);
			if (got < 0) return fail("read");
			buf[got] = 0;
			printf("got:%s\n", buf);
		}
		close(fd);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "destroy")) {
		int fd = open(argv[2], O_RDWR);
		if (fd < 0) return fail(argv[2]);
		if (ioctl(fd, RPMSG_DESTROY_EPT_IOCTL) < 0) return fail("RPMSG_DESTROY_EPT_IOCTL");
		close(fd);
		return 0;
	}
	fprintf(stderr, "usage: rpmsg_ept new CTRL NAME SRC DST | find NAME | xfer DEV MSG N | destroy DEV\n");
	return 2;
}
