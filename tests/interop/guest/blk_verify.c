/*
 * blk_verify: the guest half of tests/interop/vhost_user_blk_uring_test.ts.
 * Built static by the test at run time and put in the initramfs (busybox
 * has no O_DIRECT and no Linux AIO).
 *
 *   blk_verify DEV PHASE SPEC...
 *
 * Each SPEC is one request, `w:SEED:OFFSET:LENGTH` (write the pattern SEED
 * there) or `r:SEED:OFFSET:LENGTH` (read it back and check it is the pattern
 * SEED); offsets and lengths in bytes, multiples of 512. The requests are
 * dealt round-robin to one process per online CPU, each pinned to its CPU
 * (so the guest's blk-mq sends each CPU's requests to its own virtqueue),
 * and each process submits all of its requests with ONE io_submit (Linux
 * native AIO, O_DIRECT: no page cache), so they are in flight together,
 * then waits for all of them and, when it wrote, calls fdatasync (a FLUSH).
 *
 * Prints one line per request, "@@PHASE_<i>=<result> <fnv>": the result is
 * "ok", "err:<errno>" (the request failed), "short:<bytes>" or
 * "bad:<offset>" (a read whose data is not the pattern, from that byte);
 * fnv is the FNV-1a (32 bits, hex) of the buffer written, or of the bytes
 * read. Then "@@PHASE_sync<cpu>=<0 or errno>" per process that wrote. Exit
 * status 0 once every request completed, whatever its result: the host
 * judges the results; 1 when the program itself could not run.
 *
 * The pattern: the little-endian 32-bit word at byte offset o of the disk
 * (o a multiple of 4) is fmix32(SEED * 0x9E3779B1 + o / 4), MurmurHash3's
 * finaliser: every word depends on where it lies on the disk, so data at
 * the wrong offset, from another request or left over is caught.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

struct spec {
  int write;
  uint32_t seed;
  uint64_t offset;
  uint64_t length;
};

static uint32_t fmix32(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

static uint32_t word_at(uint32_t seed, uint64_t offset) {
  return fmix32(seed * 0x9E3779B1u + (uint32_t)(offset / 4));
}

static void fill(unsigned char *buf, const struct spec *s) {
  for (uint64_t i = 0; i < s->length; i += 4) {
    uint32_t w = word_at(s->seed, s->offset + i);
    buf[i] = (unsigned char)w;
    buf[i + 1] = (unsigned char)(w >> 8);
    buf[i + 2] = (unsigned char)(w >> 16);
    buf[i + 3] = (unsigned char)(w >> 24);
  }
}

/* The first byte of buf that is not the pattern, or -1. */
static long long mismatch(const unsigned char *buf, const struct spec *s) {
  for (uint64_t i = 0; i < s->length; i += 4) {
    uint32_t w = word_at(s->seed, s->offset + i);
    for (int k = 0; k < 4; k++) {
      if (buf[i + k] != (unsigned char)(w >> (8 * k))) return (long long)(i + k);
    }
  }
  return -1;
}

static uint32_t fnv1a(const unsigned char *buf, uint64_t n) {
  uint32_t h = 0x811c9dc5u;
  for (uint64_t i = 0; i < n; i++) h = (h ^ buf[i]) * 0x01000193u;
  return h;
}

static int parse(const char *arg, struct spec *s) {
  char kind;
  unsigned long seed;
  unsigned long long off, len;
  if (sscanf(arg, "%c:%lu:%llu:%llu", &kind, &seed, &off, &len) != 4) return -1;
  if ((kind != 'r' && kind != 'w') || len == 0 || off % 512 != 0 || len % 512 != 0) return -1;
  s->write = kind == 'w';
  s->seed = (uint32_t)seed;
  s->offset = off;
  s->length = len;
  return 0;
}

static long sys_io_setup(unsigned n, aio_context_t *ctx) { return syscall(SYS_io_setup, n, ctx); }
static long sys_io_submit(aio_context_t ctx, long n, struct iocb **v) {
  return syscall(SYS_io_submit, ctx, n, v);
}
static long sys_io_getevents(aio_context_t ctx, long min, long max, struct io_event *ev) {
  return syscall(SYS_io_getevents, ctx, min, max, ev, NULL);
}

/* One CPU's share: requests cpu, cpu + cpus, ... submitted together. */
static int worker(const char *dev, const char *phase, int cpu, int cpus, const struct spec *specs,
                  int n) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) {
    perror("sched_setaffinity");
    return 1;
  }
  int mine = 0, wrote = 0;
  for (int i = cpu; i < n; i += cpus) mine++;
  if (mine == 0) return 0;
  int fd = open(dev, O_RDWR | O_DIRECT);
  if (fd < 0) fd = open(dev, O_RDONLY | O_DIRECT); /* a read-only disk */
  if (fd < 0) {
    perror(dev);
    return 1;
  }
  aio_context_t ctx = 0;
  if (sys_io_setup((unsigned)mine, &ctx) != 0) {
    perror("io_setup");
    return 1;
  }
  struct iocb *cbs = calloc((size_t)mine, sizeof *cbs);
  struct iocb **list = calloc((size_t)mine, sizeof *list);
  struct io_event *ev = calloc((size_t)mine, sizeof *ev);
  unsigned char **bufs = calloc((size_t)mine, sizeof *bufs);
  int *index = calloc((size_t)mine, sizeof *index);
  int k = 0;
  for (int i = cpu; i < n; i += cpus, k++) {
    const struct spec *s = &specs[i];
    void *p = NULL;
    if (posix_memalign(&p, 4096, (size_t)s->length) != 0) {
      perror("posix_memalign");
      return 1;
    }
    bufs[k] = p;
    index[k] = i;
    if (s->write) {
      fill(bufs[k], s);
      wrote = 1;
    } else {
      memset(bufs[k], 0xA5, (size_t)s->length); /* not the pattern: a read must overwrite it */
    }
    cbs[k].aio_data = (uint64_t)k;
    cbs[k].aio_fildes = (uint32_t)fd;
    cbs[k].aio_lio_opcode = s->write ? IOCB_CMD_PWRITE : IOCB_CMD_PREAD;
    cbs[k].aio_buf = (uint64_t)(uintptr_t)bufs[k];
    cbs[k].aio_nbytes = s->length;
    cbs[k].aio_offset = (int64_t)s->offset;
    list[k] = &cbs[k];
  }
  for (int done = 0; done < mine;) {
    long r = sys_io_submit(ctx, mine - done, list + done);
    if (r <= 0) {
      perror("io_submit");
      return 1;
    }
    done += (int)r;
  }
  for (int got = 0; got < mine;) {
    long r = sys_io_getevents(ctx, 1, mine, ev);
    if (r < 0) {
      if (errno == EINTR) continue;
      perror("io_getevents");
      return 1;
    }
    for (long e = 0; e < r; e++) {
      int j = (int)ev[e].data;
      const struct spec *s = &specs[index[j]];
      char result[64];
      long long res = (long long)ev[e].res;
      if (res < 0) {
        snprintf(result, sizeof result, "err:%lld", -res);
      } else if ((uint64_t)res != s->length) {
        snprintf(result, sizeof result, "short:%lld", res);
      } else if (!s->write && mismatch(bufs[j], s) >= 0) {
        snprintf(result, sizeof result, "bad:%lld", mismatch(bufs[j], s));
      } else {
        snprintf(result, sizeof result, "ok");
      }
      printf("@@%s_%d=%s %08x\n", phase, index[j], result, fnv1a(bufs[j], s->length));
      fflush(stdout);
    }
    got += (int)r;
  }
  if (wrote) {
    int rc = fdatasync(fd) == 0 ? 0 : errno;
    printf("@@%s_sync%d=%d\n", phase, cpu, rc);
    fflush(stdout);
  }
  close(fd);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: blk_verify DEV PHASE w|r:SEED:OFFSET:LENGTH...\n");
    return 1;
  }
  int n = argc - 3;
  struct spec *specs = calloc((size_t)n, sizeof *specs);
  for (int i = 0; i < n; i++) {
    if (parse(argv[3 + i], &specs[i]) != 0) {
      fprintf(stderr, "blk_verify: bad request %s\n", argv[3 + i]);
      return 1;
    }
  }
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  if (cpus < 1) cpus = 1;
  for (long c = 0; c < cpus; c++) {
    pid_t p = fork();
    if (p < 0) {
      perror("fork");
      return 1;
    }
    if (p == 0) _exit(worker(argv[1], argv[2], (int)c, (int)cpus, specs, n));
  }
  int failed = 0;
  for (long c = 0; c < cpus; c++) {
    int st = 0;
    if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) failed = 1;
  }
  return failed;
}
