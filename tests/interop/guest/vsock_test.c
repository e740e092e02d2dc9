/*
 * vsock_test: the guest half of tests/interop/vhost_user_vsock_test.ts.
 * Built static by the test at run time and put in the initramfs (busybox
 * has no AF_VSOCK). Prints "@@<name>=<bytes> <fnv1a-32 hex> <ok|bad>".
 *
 *   vsock_test send NAME PORT BYTES SEED   connect to CID 2, send BYTES of the
 *                                          pattern SEED, shut down sending, read
 *                                          the echo and check it is the pattern
 *   vsock_test serve NAME PORT BYTES SEED  listen, accept one, read until EOF
 *                                          (checked against pattern SEED+1) while
 *                                          sending BYTES of pattern SEED
 *   vsock_test refused NAME PORT           connect to CID 2 PORT; expect ECONNRESET
 *   vsock_test seq NAME PORT COUNT         SOCK_SEQPACKET to CID 2 PORT (an echo): COUNT
 *                                          messages of (i * 7919) % 20000 + 1 bytes of
 *                                          pattern i + 1, each read back whole; prints
 *                                          "@@NAME=<messages> <bytes> <ok|bad>"
 *
 * The pattern: xorshift32 from SEED, one byte per step (the low byte).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

static uint32_t next(uint32_t *s) {
  uint32_t x = *s;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  *s = x;
  return x;
}

static void send_pattern(int fd, long bytes, uint32_t seed) {
  unsigned char buf[8192];
  uint32_t s = seed;
  while (bytes > 0) {
    long n = bytes < (long)sizeof buf ? bytes : (long)sizeof buf;
    for (long i = 0; i < n; i++) buf[i] = next(&s) & 0xff;
    for (long off = 0; off < n;) {
      ssize_t w = write(fd, buf + off, n - off);
      if (w < 0) {
        if (errno == EINTR) continue;
        perror("write");
        exit(3);
      }
      off += w;
    }
    bytes -= n;
  }
  shutdown(fd, SHUT_WR);
}

/* Reads until EOF; returns the byte count, sets *fnv and *ok (matches pattern seed). */
static long recv_check(int fd, uint32_t seed, uint32_t *fnv, int *ok) {
  unsigned char buf[8192];
  uint32_t s = seed, h = 2166136261u;
  long total = 0;
  *ok = 1;
  for (;;) {
    ssize_t r = read(fd, buf, sizeof buf);
    if (r < 0) {
      if (errno == EINTR) continue;
      perror("read");
      *ok = 0;
      break;
    }
    if (r == 0) break;
    for (ssize_t i = 0; i < r; i++) {
      if (buf[i] != (next(&s) & 0xff)) *ok = 0;
      h = (h ^ buf[i]) * 16777619u;
    }
    total += r;
  }
  *fnv = h;
  return total;
}

static void report(const char *name, long total, uint32_t fnv, int ok) {
  printf("@@%s=%ld %08x %s\n", name, total, fnv, ok ? "ok" : "bad");
  fflush(stdout);
}

static int exchange(int fd, const char *name, long bytes, uint32_t out_seed, uint32_t in_seed) {
  pid_t child = fork();
  if (child == 0) {
    send_pattern(fd, bytes, out_seed);
    _exit(0);
  }
  uint32_t fnv;
  int ok;
  long total = recv_check(fd, in_seed, &fnv, &ok);
  int status;
  waitpid(child, &status, 0);
  report(name, total, fnv, ok && WIFEXITED(status) && WEXITSTATUS(status) == 0);
  close(fd);
  return 0;
}

static int seq(const char *name, char **argv) {
  static unsigned char out[65536], in[65536];
  struct sockaddr_vm a;
  memset(&a, 0, sizeof a);
  a.svm_family = AF_VSOCK;
  a.svm_cid = VMADDR_CID_HOST;
  a.svm_port = (unsigned)strtoul(argv[3], NULL, 0);
  long count = argv[4] ? strtol(argv[4], NULL, 0) : 0;
  int fd = socket(AF_VSOCK, SOCK_SEQPACKET, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    printf("@@%s=connect %s\n", name, strerror(errno));
    return 1;
  }
  long total = 0, good = 0;
  for (long i = 0; i < count; i++) {
    long size = (i * 7919) % 20000 + 1;
    uint32_t s = (uint32_t)i + 1;
    for (long k = 0; k < size; k++) out[k] = next(&s) & 0xff;
    if (send(fd, out, size, 0) != size) break;
    ssize_t r = recv(fd, in, sizeof in, 0);
    if (r == size && memcmp(in, out, size) == 0) good++;
    if (r > 0) total += r;
  }
  printf("@@%s=%ld %ld %s\n", name, good, total, good == count ? "ok" : "bad");
  close(fd);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: vsock_test send|serve|refused NAME PORT [BYTES SEED]\n");
    return 2;
  }
  const char *mode = argv[1], *name = argv[2];
  if (strcmp(mode, "seq") == 0) return seq(name, argv);
  struct sockaddr_vm a;
  memset(&a, 0, sizeof a);
  a.svm_family = AF_VSOCK;
  a.svm_port = (unsigned)strtoul(argv[3], NULL, 0);
  int fd = socket(AF_VSOCK, SOCK_STREAM, 0);
  if (fd < 0) {
    perror("socket");
    return 1;
  }
  if (strcmp(mode, "refused") == 0) {
    a.svm_cid = VMADDR_CID_HOST;
    int r = connect(fd, (struct sockaddr *)&a, sizeof a);
    printf("@@%s=%s\n", name, r == 0 ? "connected" : strerror(errno));
    return 0;
  }
  if (argc < 6) return 2;
  long bytes = strtol(argv[4], NULL, 0);
  uint32_t seed = (uint32_t)strtoul(argv[5], NULL, 0);
  if (strcmp(mode, "send") == 0) {
    a.svm_cid = VMADDR_CID_HOST;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
      printf("@@%s=connect %s\n", name, strerror(errno));
      return 1;
    }
    return exchange(fd, name, bytes, seed, seed); /* the host echoes */
  }
  if (strcmp(mode, "serve") == 0) {
    a.svm_cid = VMADDR_CID_ANY;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 4) != 0) {
      perror("bind/listen");
      return 1;
    }
    printf("@@listening=%s\n", argv[3]);
    fflush(stdout);
    int c = accept(fd, NULL, NULL);
    if (c < 0) {
      perror("accept");
      return 1;
    }
    return exchange(c, name, bytes, seed, seed + 1);
  }
  return 2;
}
