/*
 * Guest-side load for bench/vhost_user_bench.ts: reads a block device with
 * O_DIRECT (no page cache) and prints the elapsed wall-clock time in
 * microseconds. Built static on the host (gcc -static) and put into the
 * guest's initramfs; busybox has no fio.
 *
 *   blk_load rand DEV COUNT SEED   COUNT 4 KiB reads at random 4 KiB-aligned
 *                                  offsets, one at a time (queue depth 1)
 *   blk_load seq DEV MIB           MIB 1 MiB reads from offset 0 on, one at a time
 *   blk_load qd DEV DEPTH COUNT SEED
 *                                  COUNT 4 KiB random reads with DEPTH in flight,
 *                                  split over the online CPUs: one process per
 *                                  CPU, pinned to it, each keeping DEPTH/CPUs
 *                                  reads in flight with Linux native AIO, so the
 *                                  guest's blk-mq sends each CPU's requests to
 *                                  its own queue
 *
 * Prints two numbers: the whole run's wall-clock time and a robust
 * per-request figure, both in microseconds. For rand and seq the second is
 * the median time of one read (rand adds the 10th, 90th and 99th
 * percentiles of one read's time, to show the tail the mean sees); for qd it is the median time, over all
 * workers, that one worker took for GROUP completions (so the rate is
 * workers x GROUP / median). On a loaded host a read that was descheduled
 * moves a mean a lot and a median hardly.
 *
 * Exit status 0 on success; any failed or short read is an error (status 1).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BLOCK 4096
#define MIB (1 << 20)
/* Completions per timed group of the qd mode. */
#define GROUP 64
#include <sys/mman.h>

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static uint32_t median_u32(uint32_t *v, long n) {
  if (n <= 0) return 0;
  qsort(v, (size_t)n, sizeof *v, cmp_u32);
  return v[n / 2];
}

/* The q-th per-mille of v, which median_u32 has sorted. */
static uint32_t permille_u32(const uint32_t *v, long n, long q) {
  return n <= 0 ? 0 : v[(n - 1) * q / 1000];
}

static uint64_t now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

/* xorshift64*: the offsets only need to be spread, the same for every device. */
static uint64_t next_rand(uint64_t *s) {
  uint64_t x = *s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *s = x;
  return x * 0x2545F4914F6CDD1DULL;
}

static void *aligned(size_t n) {
  void *p = NULL;
  if (posix_memalign(&p, BLOCK, n) != 0) {
    perror("posix_memalign");
    exit(1);
  }
  memset(p, 0, n);
  return p;
}

static int open_dev(const char *path, uint64_t *blocks) {
  int fd = open(path, O_RDONLY | O_DIRECT);
  if (fd < 0) {
    perror(path);
    exit(1);
  }
  off_t end = lseek(fd, 0, SEEK_END);
  if (end < BLOCK) {
    fprintf(stderr, "%s: too small\n", path);
    exit(1);
  }
  *blocks = (uint64_t)end / BLOCK;
  return fd;
}

static int run_rand(const char *dev, long count, uint64_t seed) {
  uint64_t blocks;
  int fd = open_dev(dev, &blocks);
  char *buf = aligned(BLOCK);
  uint32_t *lat = calloc((size_t)count, sizeof *lat);
  uint64_t s = seed | 1;
  uint64_t t0 = now_us(), t = t0;
  for (long i = 0; i < count; i++) {
    off_t off = (off_t)(next_rand(&s) % blocks) * BLOCK;
    if (pread(fd, buf, BLOCK, off) != BLOCK) {
      perror("pread");
      return 1;
    }
    uint64_t u = now_us();
    lat[i] = (uint32_t)(u - t);
    t = u;
  }
  uint32_t med = median_u32(lat, count);
  printf("%llu %u %u %u %u\n", (unsigned long long)(t - t0), med, permille_u32(lat, count, 100),
         permille_u32(lat, count, 900), permille_u32(lat, count, 990));
  return 0;
}

static int run_seq(const char *dev, long mib) {
  uint64_t blocks;
  int fd = open_dev(dev, &blocks);
  char *buf = aligned(MIB);
  uint32_t *lat = calloc((size_t)mib, sizeof *lat);
  uint64_t t0 = now_us(), t = t0;
  for (long i = 0; i < mib; i++) {
    off_t off = ((off_t)i * MIB) % (off_t)((blocks * BLOCK / MIB) * MIB);
    if (pread(fd, buf, MIB, off) != MIB) {
      perror("pread");
      return 1;
    }
    uint64_t u = now_us();
    lat[i] = (uint32_t)(u - t);
    t = u;
  }
  printf("%llu %u\n", (unsigned long long)(t - t0), median_u32(lat, mib));
  return 0;
}

static long sys_io_setup(unsigned n, aio_context_t *ctx) { return syscall(SYS_io_setup, n, ctx); }
static long sys_io_submit(aio_context_t ctx, long n, struct iocb **v) {
  return syscall(SYS_io_submit, ctx, n, v);
}
static long sys_io_getevents(aio_context_t ctx, long min, long max, struct io_event *ev) {
  return syscall(SYS_io_getevents, ctx, min, max, ev, NULL);
}

/* One CPU's share of the qd run: `depth` reads in flight until `count` completed. */
static int qd_worker(const char *dev, int cpu, int depth, long count, uint64_t seed,
                     uint32_t *groups) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) {
    perror("sched_setaffinity");
    return 1;
  }
  uint64_t blocks;
  int fd = open_dev(dev, &blocks);
  aio_context_t ctx = 0;
  if (sys_io_setup((unsigned)depth, &ctx) != 0) {
    perror("io_setup");
    return 1;
  }
  char *bufs = aligned((size_t)depth * BLOCK);
  struct iocb *cbs = calloc((size_t)depth, sizeof *cbs);
  struct io_event *ev = calloc((size_t)depth, sizeof *ev);
  uint64_t s = (seed * 0x9E3779B97F4A7C15ULL + (uint64_t)cpu) | 1;
  long submitted = 0, done = 0;
  uint64_t group_start = now_us();
  for (int i = 0; i < depth && submitted < count; i++, submitted++) {
    struct iocb *cb = &cbs[i];
    cb->aio_data = (uint64_t)i;
    cb->aio_fildes = (uint32_t)fd;
    cb->aio_lio_opcode = IOCB_CMD_PREAD;
    cb->aio_buf = (uint64_t)(uintptr_t)(bufs + (size_t)i * BLOCK);
    cb->aio_nbytes = BLOCK;
    cb->aio_offset = (int64_t)((next_rand(&s) % blocks) * BLOCK);
    if (sys_io_submit(ctx, 1, &cb) != 1) {
      perror("io_submit");
      return 1;
    }
  }
  while (done < count) {
    long n = sys_io_getevents(ctx, 1, depth, ev);
    if (n < 0) {
      perror("io_getevents");
      return 1;
    }
    for (long k = 0; k < n; k++) {
      if (ev[k].res != BLOCK) {
        fprintf(stderr, "aio read: %lld\n", (long long)ev[k].res);
        return 1;
      }
      done++;
      if (done % GROUP == 0) {
        uint64_t u = now_us();
        groups[done / GROUP - 1] = (uint32_t)(u - group_start);
        group_start = u;
      }
      if (submitted < count) {
        struct iocb *cb = &cbs[ev[k].data];
        cb->aio_offset = (int64_t)((next_rand(&s) % blocks) * BLOCK);
        if (sys_io_submit(ctx, 1, &cb) != 1) {
          perror("io_submit");
          return 1;
        }
        submitted++;
      }
    }
  }
  return 0;
}

static int run_qd(const char *dev, int depth, long count, uint64_t seed) {
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  if (cpus < 1) cpus = 1;
  if (depth < cpus) cpus = depth;
  /* Each worker's group times, in memory shared with this parent. */
  long per = count / cpus / GROUP + 1;
  uint32_t *groups = mmap(NULL, (size_t)(cpus * per) * sizeof *groups, PROT_READ | PROT_WRITE,
                          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (groups == MAP_FAILED) {
    perror("mmap");
    return 1;
  }
  memset(groups, 0, (size_t)(cpus * per) * sizeof *groups);
  uint64_t t0 = now_us();
  for (long c = 0; c < cpus; c++) {
    pid_t p = fork();
    if (p < 0) {
      perror("fork");
      return 1;
    }
    if (p == 0) {
      int d = depth / (int)cpus + ((long)(depth % cpus) > c ? 1 : 0);
      long n = count / cpus + ((count % cpus) > c ? 1 : 0);
      _exit(qd_worker(dev, (int)c, d, n, seed, groups + c * per));
    }
  }
  int failed = 0;
  for (long c = 0; c < cpus; c++) {
    int st = 0;
    if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) failed = 1;
  }
  if (failed) return 1;
  uint64_t total = now_us() - t0;
  long n = 0;
  for (long i = 0; i < cpus * per; i++) {
    if (groups[i] != 0) groups[n++] = groups[i];
  }
  printf("%llu %u %ld\n", (unsigned long long)total, median_u32(groups, n), cpus);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 5 && strcmp(argv[1], "rand") == 0) {
    return run_rand(argv[2], atol(argv[3]), strtoull(argv[4], NULL, 10));
  }
  if (argc == 4 && strcmp(argv[1], "seq") == 0) return run_seq(argv[2], atol(argv[3]));
  if (argc == 6 && strcmp(argv[1], "qd") == 0) {
    return run_qd(argv[2], atoi(argv[3]), atol(argv[4]), strtoull(argv[5], NULL, 10));
  }
  fprintf(stderr, "usage: blk_load rand DEV COUNT SEED | seq DEV MIB | qd DEV DEPTH COUNT SEED\n");
  return 2;
}
