// A split virtqueue (virtio 1.2, section 2.7) in C, driver and device, as the
// C peer of bench/_worker_compare.ts. It does per request what our rigs do
// (bench/_transport_rigs.ts): one 64-byte device-readable descriptor per
// chain, the null device's serving loop (pop every chain, used length 0, one
// used idx store per pass, notify by EVENT_IDX, re-enable and look again),
// VIRTIO_F_EVENT_IDX on both sides, and it runs in one of two modes:
//
//   single   one thread, driver and device alternating per batch, as our
//            bare engine (bareRig): add a batch, kick, the device serves it,
//            the driver collects it and re-arms callbacks;
//   threads  the device in a thread of its own and the driver in the main
//            thread, as our worker transport's NAPI case (workerRig's poll):
//            the driver keeps callbacks off while it has work, collects used
//            buffers between submissions, adds every batch there is room for
//            and kicks once, and only with nothing to do re-arms for 3/4 of
//            what is outstanding and sleeps until the interrupt; the device
//            sleeps on a doorbell word when it has nothing to do. Kicks and
//            interrupts go through a control block laid out as our worker
//            transport's (src/transport/worker.ts, Ctl), sleeps are futex
//            waits, and a wake-up is a futex wake only when someone sleeps
//            (as V8's Atomics.notify, which looks for waiters under a lock).
//
// The ring's index and event words are C11 atomics: release stores publish
// what was written before them, acquire loads see it, and a full fence sits
// where the spec's notification race needs one (2.7.10, 2.7.13.4: an index
// written, then the other side's event word read; Linux's virtio_mb). The
// other ring fields (descriptors, ring entries, used elements) are plain
// accesses ordered by those words.
//
// Written from the spec for this comparison; it is a benchmark, not a
// device: indirect descriptors and the non-EVENT_IDX flags are not handled,
// and a broken rule ends the program with a message.
//
// Build: gcc -O2 -pthread -o ring_threads ring_threads.c
// Run:   ring_threads QUEUE_SIZE BATCH REQUESTS single|threads
// Prints one line, "RING_RESULT {json}": requests, wall_ns and cpu_ns (the
// measured run only, after a warm-up of a quarter as many requests;
// CLOCK_PROCESS_CPUTIME_ID, so both threads count); counters (kicks that
// reached the device, interrupts, futex sleeps of each side); and where the
// time went, from the TSC read around a few sections (wall time inside them,
// so a thread preempted there counts): device_work_ns (the device's serving
// passes), driver_work_ns (the driver's loop less its waits, its wakes and,
// in one thread, the device's passes), wake_ns (futex wakes, both sides),
// driver_wait_ns (the driver waiting for interrupts, sleeping included).

#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "virtio 1.x ring fields are little-endian; this program accesses them natively"
#endif
_Static_assert(ATOMIC_SHORT_LOCK_FREE == 2, "16-bit ring words need lock-free atomics");
_Static_assert(sizeof(_Atomic uint16_t) == 2, "an atomic ring word is 2 bytes");

// 2.7.5: struct virtq_desc flags.
#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
// 2.7.6: struct virtq_avail flags.
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
// 4.2.2: InterruptStatus bits of virtio-mmio.
#define VIRTIO_MMIO_INT_VRING 1
#define VIRTIO_MMIO_INT_CONFIG 2

// 2.7.5
struct virtq_desc {
  uint64_t addr;
  uint32_t len;
  uint16_t flags;
  uint16_t next;
};
// 2.7.6; used_event (le16) follows ring[size].
struct virtq_avail {
  _Atomic uint16_t flags;
  _Atomic uint16_t idx;
  uint16_t ring[];
};
// 2.7.8
struct virtq_used_elem {
  uint32_t id;
  uint32_t len;
};
// 2.7.8; avail_event (le16) follows ring[size].
struct virtq_used {
  _Atomic uint16_t flags;
  _Atomic uint16_t idx;
  struct virtq_used_elem ring[];
};
_Static_assert(sizeof(struct virtq_desc) == 16, "2.7.5: a descriptor is 16 bytes");
_Static_assert(sizeof(struct virtq_used_elem) == 8, "2.7.8: a used element is 8 bytes");

// Guest memory as our rigs have it: 1 MiB, DMA allocations from 0x1000.
#define MEM_SIZE (1u << 20)
#define DMA_BASE 0x1000u
// The longest chain this program's device accepts (the rigs send 1).
#define MAX_SEGS 16
// The most bytes one buffer may have (2.7.4.1).
#define MAX_CHAIN_BYTES 0xffffffffull

static _Noreturn void fail(const char *what) {
  fprintf(stderr, "ring_threads: %s\n", what);
  exit(1);
}

// 2.7.10 (Linux's vring_need_event): notify when `event` lies in (old, new].
static inline bool need_event(uint16_t event, uint16_t new_idx, uint16_t old) {
  return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

static uint32_t align_up(uint32_t v, uint32_t a) {
  return (v + a - 1) & ~(a - 1);
}

/** Where the areas of a queue lie in guest memory (byte offsets). */
struct layout {
  uint32_t desc, avail, used, buffer;
};

// The addresses our DMA allocator gives (first fit from 0x1000): descriptor
// table (16-aligned), available ring (2-aligned), used ring (4-aligned), one
// after the other as allocateQueue asks for them, then the rigs' 64-byte
// buffer (8-aligned). The same layout means the same cache lines shared
// between areas (used_event and the used ring's head share one).
static struct layout layout_for(uint16_t size) {
  struct layout l;
  l.desc = align_up(DMA_BASE, 16);
  l.avail = align_up(l.desc + 16u * size, 2);
  l.used = align_up(l.avail + 6u + 2u * size, 4);
  l.buffer = align_up(l.used + 6u + 8u * size, 8);
  return l;
}

// ---------------------------------------------------------------- driver

struct sg {
  uint64_t addr;
  uint32_t len;
};

/** The driver side (after Linux's virtqueue_add_split, kick_prepare, get_buf). */
struct driver {
  uint16_t size, mask;
  struct virtq_desc *desc;
  struct virtq_avail *avail;
  struct virtq_used *used;
  _Atomic uint16_t *used_event; // in the available ring, after ring[size]
  _Atomic uint16_t *avail_event; // in the used ring, after ring[size]
  // The free descriptors linked through our own copy of each next (never
  // read back from shared memory), oldest freed last.
  uint16_t *next;
  uint16_t free_head, free_tail;
  uint32_t num_free, in_flight;
  int32_t *token; // -1: not outstanding
  uint16_t *count; // descriptors of each outstanding buffer
  uint32_t *writable; // its writable bytes: the most the device may report
  uint16_t avail_idx, num_added, last_used;
  uint16_t used_seen; // the used idx loaded last
  uint16_t avail_flags; // NO_INTERRUPT while callbacks are off (not written with EVENT_IDX)
};

static void driver_init(struct driver *d, uint8_t *mem, uint16_t size) {
  struct layout l = layout_for(size);
  memset(d, 0, sizeof *d);
  d->size = size;
  d->mask = (uint16_t)(size - 1);
  d->desc = (struct virtq_desc *)(mem + l.desc);
  d->avail = (struct virtq_avail *)(mem + l.avail);
  d->used = (struct virtq_used *)(mem + l.used);
  d->used_event = (_Atomic uint16_t *)&d->avail->ring[size];
  d->avail_event = (_Atomic uint16_t *)&d->used->ring[size];
  d->next = calloc(size, sizeof *d->next);
  d->token = malloc(size * sizeof *d->token);
  d->count = calloc(size, sizeof *d->count);
  d->writable = calloc(size, sizeof *d->writable);
  if (!d->next || !d->token || !d->count || !d->writable) fail("out of memory");
  for (uint32_t i = 0; i + 1 < size; i++) d->next[i] = (uint16_t)(i + 1);
  for (uint32_t i = 0; i < size; i++) d->token[i] = -1;
  d->free_head = 0;
  d->free_tail = (uint16_t)(size - 1);
  d->num_free = size;
}

/** Makes a buffer available (2.7.13.1-2.7.13.2); idx is published in driver_kick_prepare. */
static void driver_add(struct driver *d, const struct sg *out, uint32_t n_out,
                       const struct sg *in, uint32_t n_in, int32_t token) {
  uint32_t total = n_out + n_in;
  if (token < 0 || total == 0 || total > d->num_free) fail("driver: no room for the buffer");
  uint16_t head = d->free_head, last = head;
  uint64_t readable = 0, writable = 0;
  for (uint32_t i = 0; i < total; i++) {
    bool w = i >= n_out;
    const struct sg *s = w ? &in[i - n_out] : &out[i];
    if (w) writable += s->len;
    else readable += s->len;
    struct virtq_desc *dd = &d->desc[last];
    dd->addr = s->addr;
    dd->len = s->len;
    if (i + 1 < total) {
      uint16_t nxt = d->next[last];
      dd->flags = (uint16_t)((w ? VIRTQ_DESC_F_WRITE : 0) | VIRTQ_DESC_F_NEXT);
      dd->next = nxt;
      last = nxt;
    } else {
      dd->flags = w ? VIRTQ_DESC_F_WRITE : 0;
      dd->next = 0;
    }
  }
  // 2.7.4.1
  if (readable + writable > MAX_CHAIN_BYTES) fail("driver: buffer longer than 2^32 - 1 bytes");
  d->free_head = d->next[last];
  d->num_free -= total;
  d->token[head] = token;
  d->count[head] = (uint16_t)total;
  d->writable[head] = (uint32_t)writable;
  d->in_flight++;
  d->avail->ring[d->avail_idx & d->mask] = head;
  d->avail_idx++;
  d->num_added++;
}

/** Publishes what was added; true when the device asked to be notified (2.7.13.3-2.7.13.4). */
static bool driver_kick_prepare(struct driver *d) {
  uint16_t added = d->num_added;
  d->num_added = 0;
  if (added == 0) return false;
  uint16_t now = d->avail_idx;
  // 2.7.13.3.1: the ring entries and descriptors before idx.
  atomic_store_explicit(&d->avail->idx, now, memory_order_release);
  // 2.7.13.4: idx written before avail_event is read (the device re-enabling
  // notifications writes avail_event, then reads idx).
  atomic_thread_fence(memory_order_seq_cst);
  uint16_t event = atomic_load_explicit(d->avail_event, memory_order_relaxed);
  return need_event(event, now, (uint16_t)(now - added));
}

static bool driver_has_used(struct driver *d) {
  return atomic_load_explicit(&d->used->idx, memory_order_acquire) != d->last_used;
}

/** The next used buffer, or false (Linux's virtqueue_get_buf). */
static bool driver_get_buf(struct driver *d, int32_t *token, uint32_t *len) {
  uint16_t last = d->last_used;
  // idx before the entries it covers; loaded again only once those loaded last are taken.
  uint16_t idx = d->used_seen;
  if (idx == last) idx = atomic_load_explicit(&d->used->idx, memory_order_acquire);
  if (idx == last) return false;
  uint16_t pending = (uint16_t)(idx - last);
  if (pending > d->in_flight) fail("driver: used idx ahead of the buffers outstanding");
  d->used_seen = idx;
  const struct virtq_used_elem *e = &d->used->ring[last & d->mask];
  uint32_t id = e->id, l = e->len;
  if (id >= d->size || d->token[id] < 0) fail("driver: used entry names no outstanding buffer");
  if (l > d->writable[id]) fail("driver: used length exceeds the buffer's writable bytes");
  uint16_t now = (uint16_t)(last + 1);
  d->last_used = now;
  // 2.7.10: while callbacks are on, ask for an interrupt at the next used
  // entry; only at the last entry loaded, as the device does avail_event.
  if ((d->avail_flags & VIRTQ_AVAIL_F_NO_INTERRUPT) == 0 && now == d->used_seen) {
    atomic_store_explicit(d->used_event, now, memory_order_release);
  }
  // The chain is still linked through next: append it whole to the free list.
  uint16_t n = d->count[id], tail = (uint16_t)id;
  for (uint16_t i = 1; i < n; i++) tail = d->next[tail];
  if (d->num_free == 0) d->free_head = (uint16_t)id;
  else d->next[d->free_tail] = (uint16_t)id;
  d->free_tail = tail;
  d->num_free += n;
  *token = d->token[id];
  d->token[id] = -1;
  d->in_flight--;
  *len = l;
  return true;
}

/** Asks the device not to interrupt: with EVENT_IDX, used_event as far away as it goes. */
static void driver_disable_cb(struct driver *d) {
  d->avail_flags |= VIRTQ_AVAIL_F_NO_INTERRUPT;
  atomic_store_explicit(d->used_event, (uint16_t)(d->last_used + 0x8000), memory_order_relaxed);
}

// Re-enables interrupts for `ahead` used entries from now; false when used
// buffers are already waiting (Linux's virtqueue_enable_cb sense).
static bool driver_enable(struct driver *d, uint16_t ahead) {
  d->avail_flags &= (uint16_t)~VIRTQ_AVAIL_F_NO_INTERRUPT;
  atomic_store_explicit(d->used_event, (uint16_t)(d->last_used + ahead), memory_order_relaxed);
  // 2.7.10: used_event written before idx is read (the device publishes idx, then reads used_event).
  atomic_thread_fence(memory_order_seq_cst);
  return !driver_has_used(d);
}

static bool driver_enable_cb(struct driver *d) {
  return driver_enable(d, 0);
}

/** For when 3/4 of the outstanding buffers are used (Linux's virtqueue_enable_cb_delayed). */
static bool driver_enable_cb_delayed(struct driver *d) {
  return driver_enable(d, (uint16_t)(((uint16_t)(d->avail_idx - d->last_used) * 3u) >> 2));
}

// ---------------------------------------------------------------- device

/** A chain the device holds: its segments in guest memory. */
struct chain {
  uint16_t head, descriptors;
  uint16_t readable_count, writable_count;
  uint32_t readable_len, writable_len;
  bool live;
  uint8_t *seg[MAX_SEGS];
  uint32_t seg_len[MAX_SEGS];
};

/** The device side; every field read from the rings is checked. */
struct device {
  uint16_t size, mask;
  uint8_t *mem;
  struct virtq_desc *desc;
  struct virtq_avail *avail;
  struct virtq_used *used;
  _Atomic uint16_t *used_event;
  _Atomic uint16_t *avail_event;
  uint8_t *busy; // a chain from this head is held
  struct chain *chains; // by head: a head has one chain outstanding at most
  uint32_t outstanding;
  uint16_t last_avail;
  uint16_t avail_seen; // the avail idx loaded last (QEMU's shadow_avail_idx)
  uint16_t used_idx, published, signalled;
  bool notify;
  uint64_t completed; // the null device's count
};

static void device_init(struct device *v, uint8_t *mem, uint16_t size) {
  struct layout l = layout_for(size);
  memset(v, 0, sizeof *v);
  v->size = size;
  v->mask = (uint16_t)(size - 1);
  v->mem = mem;
  v->desc = (struct virtq_desc *)(mem + l.desc);
  v->avail = (struct virtq_avail *)(mem + l.avail);
  v->used = (struct virtq_used *)(mem + l.used);
  v->used_event = (_Atomic uint16_t *)&v->avail->ring[size];
  v->avail_event = (_Atomic uint16_t *)&v->used->ring[size];
  v->busy = calloc(size, 1);
  v->chains = calloc(size, sizeof *v->chains);
  if (!v->busy || !v->chains) fail("out of memory");
  v->notify = true;
}

// Walks the chain from `head` into `c` (2.7.5.3): in guest memory, readable
// before writable (2.7.4.2), at most 2^32 - 1 bytes (2.7.4.1), no longer
// than the queue (2.7.5.3.1), each descriptor read once.
static void device_walk(struct device *v, struct chain *c, uint16_t head) {
  uint32_t rc = 0, wc = 0, n = 0;
  uint64_t rl = 0, wl = 0;
  uint16_t idx = head;
  for (;;) {
    if (++n > v->size) fail("device: chain longer than the queue (a loop?)");
    const struct virtq_desc *d = &v->desc[idx];
    uint16_t flags = d->flags;
    if (flags & VIRTQ_DESC_F_INDIRECT) fail("device: indirect descriptors are not handled here");
    uint64_t addr = d->addr;
    uint32_t len = d->len;
    bool writable = (flags & VIRTQ_DESC_F_WRITE) != 0;
    if (addr > MEM_SIZE || len > MEM_SIZE - addr) fail("device: buffer outside guest memory");
    if ((!writable && wc > 0) || rl + wl + len > MAX_CHAIN_BYTES) fail("device: chain rule broken");
    if (n > MAX_SEGS) fail("device: chain longer than this program handles");
    c->seg[n - 1] = v->mem + addr;
    c->seg_len[n - 1] = len;
    if (writable) {
      wc++;
      wl += len;
    } else {
      rc++;
      rl += len;
    }
    if ((flags & VIRTQ_DESC_F_NEXT) == 0) break;
    uint16_t next = d->next;
    if (next >= v->size) fail("device: next outside the descriptor table");
    idx = next;
  }
  c->descriptors = (uint16_t)n;
  c->readable_count = (uint16_t)rc;
  c->writable_count = (uint16_t)wc;
  c->readable_len = (uint32_t)rl;
  c->writable_len = (uint32_t)wl;
}

/** The next available chain, checked, or NULL. */
static struct chain *device_pop(struct device *v) {
  uint16_t last = v->last_avail;
  // 2.7.13: idx before the entries it covers; loaded again only once those loaded last are taken.
  uint16_t idx = v->avail_seen;
  if (idx == last) idx = atomic_load_explicit(&v->avail->idx, memory_order_acquire);
  uint16_t pending = (uint16_t)(idx - last);
  if (pending == 0) return NULL;
  if (pending > v->size) fail("device: avail idx moved by more than the queue size");
  v->avail_seen = idx;
  uint16_t head = v->avail->ring[last & v->mask];
  uint16_t next = (uint16_t)(last + 1);
  v->last_avail = next;
  // 2.7.10: notify me past what I took; only at the last entry loaded (the
  // driver's idx is past avail_event before it either way).
  if (v->notify && next == idx) atomic_store_explicit(v->avail_event, next, memory_order_relaxed);
  if (head >= v->size) fail("device: chain head outside the descriptor table");
  if (v->busy[head]) fail("device: chain head made available again while held");
  if (v->outstanding == v->size) fail("device: more buffers available than the queue holds");
  struct chain *c = &v->chains[head];
  c->head = head;
  device_walk(v, c, head);
  v->busy[head] = 1;
  v->outstanding++;
  c->live = true;
  return c;
}

/** Writes the used entry of `c`; device_flush_used publishes it. */
static void device_push_used(struct device *v, struct chain *c, uint32_t len) {
  if (!c->live || len > c->writable_len) fail("device: used report breaks a rule");
  struct virtq_used_elem *e = &v->used->ring[v->used_idx & v->mask];
  e->id = c->head;
  e->len = len;
  v->used_idx++;
  v->busy[c->head] = 0;
  c->live = false;
  v->outstanding--;
}

/** Publishes the used entries written since the last flush (2.7.8.2: entries before idx). */
static void device_flush_used(struct device *v) {
  if (v->used_idx == v->published) return;
  atomic_store_explicit(&v->used->idx, v->used_idx, memory_order_release);
  v->published = v->used_idx;
}

/** True when the driver wants a used-buffer notification for what was published (2.7.10). */
static bool device_needs_notification(struct device *v) {
  uint16_t old = v->signalled, now = v->published;
  v->signalled = now;
  if (old == now) return false;
  // used idx written before used_event is read (the driver re-arming writes
  // used_event, then reads idx).
  atomic_thread_fence(memory_order_seq_cst);
  return need_event(atomic_load_explicit(v->used_event, memory_order_relaxed), now, old);
}

static bool device_has_available(struct device *v) {
  return atomic_load_explicit(&v->avail->idx, memory_order_acquire) != v->last_avail;
}

/** Asks for available-buffer notifications; true when chains are already waiting. */
static bool device_enable_notification(struct device *v) {
  v->notify = true;
  atomic_store_explicit(v->avail_event, v->last_avail, memory_order_relaxed);
  // avail_event written before idx is read: a driver adding meanwhile either
  // sees the new avail_event or is seen here (2.7.10).
  atomic_thread_fence(memory_order_seq_cst);
  return device_has_available(v);
}

/** The null device: completes every chain at once, writing nothing. */
static uint32_t null_serve_chain(struct device *v, const struct chain *c) {
  (void)c;
  v->completed++;
  return 0;
}

// src/queue_service.ts's serveQueue: pop and serve every chain, publish the
// pass, notify when the driver asked, and loop while the driver added more
// as notifications came back on.
static void serve_queue(struct device *v, void (*raise)(void)) {
  do {
    uint32_t served = 0;
    for (struct chain *c; (c = device_pop(v)) != NULL; served++) {
      device_push_used(v, c, null_serve_chain(v, c));
    }
    if (served > 0) {
      device_flush_used(v);
      if (device_needs_notification(v)) raise();
    }
  } while (device_enable_notification(v));
}

// ---------------------------------------------------------------- time

// Counters, each written by one thread only (a relaxed load and store, no
// locked instruction) and read by the main thread around the measured run.
static _Atomic uint64_t kicks, interrupts, driver_sleeps, device_sleeps;
// TSC cycles each side spends on ring work proper: the device's serving
// passes less the interrupts they raise, the driver's adds, kick_prepare,
// collecting and re-arming; no system call inside (wall time in the section,
// so a thread preempted there would count: rare, sections are short).
static _Atomic uint64_t device_ring_cycles, driver_ring_cycles;

static inline void add_to(_Atomic uint64_t *counter, uint64_t n) {
  atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + n,
                        memory_order_relaxed);
}

static inline void bump(_Atomic uint64_t *counter) {
  add_to(counter, 1);
}

// serve_queue as ring work: its time less that of the interrupts it raises
// (only the thread that serves touches these two).
static uint64_t raise_cycles;
static void (*raise_inner)(void);

static void raise_timed(void) {
  uint64_t t0 = __rdtsc();
  raise_inner();
  raise_cycles += __rdtsc() - t0;
}

static void serve_timed(struct device *v, void (*raise)(void)) {
  raise_inner = raise;
  raise_cycles = 0;
  uint64_t t0 = __rdtsc();
  serve_queue(v, raise_timed);
  add_to(&device_ring_cycles, __rdtsc() - t0 - raise_cycles);
}

static int64_t now_ns(clockid_t clock) {
  struct timespec t;
  clock_gettime(clock, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

// ---------------------------------------------------------------- transport

// The control block of src/transport/worker.ts (Ctl), the words this program uses.
enum {
  CTL_REQ_SEQ = 0,
  CTL_RESP_SEQ = 1,
  CTL_DOORBELL = 6,
  CTL_IRQ = 7,
  CTL_STOP = 8,
  CTL_IRQ_STATUS = 9,
  CTL_KICKS = 16,
};
#define MAX_QUEUES 8
#define CTL_WORDS (CTL_KICKS + MAX_QUEUES)

static _Alignas(64) _Atomic int32_t ctl[CTL_WORDS];
// Sleepers per word, for a wake-up to skip the system call when nobody sleeps.
static _Alignas(64) _Atomic int32_t doorbell_waiters, irq_waiters;

// Sleeps while *word is `seen` (or until `timeout`); true when it did sleep.
static bool wait_word(_Atomic int32_t *word, _Atomic int32_t *waiters, int32_t seen,
                      const struct timespec *timeout) {
  bool slept = false;
  atomic_fetch_add(waiters, 1);
  if (atomic_load(word) == seen) {
    slept = true;
    if (syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, seen, timeout, NULL, 0) != 0 &&
        errno != EAGAIN && errno != EINTR && errno != ETIMEDOUT) {
      fail("futex wait failed");
    }
  }
  atomic_fetch_sub(waiters, 1);
  return slept;
}

// Wakes the sleepers of `word`, which the caller has just changed. Both
// sides' order (change the word, read waiters; count in waiters, read the
// word) is sequentially consistent: one of them sees the other.
static void notify_word(_Atomic int32_t *word, _Atomic int32_t *waiters) {
  if (atomic_load(waiters) != 0) syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

// The device raises a used-buffer interrupt (worker.ts: InterruptStatus
// bit, Irq counter, wake).
static void raise_vring(void) {
  bump(&interrupts);
  atomic_fetch_or(&ctl[CTL_IRQ_STATUS], VIRTIO_MMIO_INT_VRING);
  atomic_fetch_add(&ctl[CTL_IRQ], 1);
  notify_word(&ctl[CTL_IRQ], &irq_waiters);
}

// _worker_host.ts's serve loop with blockingWait and spinMs 0.
static void *device_thread(void *arg) {
  struct device *v = arg;
  for (;;) {
    int32_t bell = atomic_load(&ctl[CTL_DOORBELL]);
    if (atomic_load(&ctl[CTL_STOP])) return NULL;
    // The register mailbox: never used while the rig runs, but looked at.
    if (atomic_load(&ctl[CTL_REQ_SEQ]) != atomic_load(&ctl[CTL_RESP_SEQ])) {
      fail("register access in the mailbox: not part of this program");
    }
    for (int q = 0; q < MAX_QUEUES; q++) {
      if (atomic_exchange(&ctl[CTL_KICKS + q], 0) && q == 0) serve_timed(v, raise_vring);
    }
    if (atomic_load(&ctl[CTL_DOORBELL]) != bell) continue;
    if (wait_word(&ctl[CTL_DOORBELL], &doorbell_waiters, bell, NULL)) bump(&device_sleeps);
  }
}

/** The driver side of the transport and the bench driver (workerRig's poll). */
struct napi {
  struct driver *d;
  int32_t irq_seen;
  bool cb_enabled;
  uint64_t completed;
};

// The queue's interrupt entry (driver_virtqueue.ts) and the bench driver's
// callback: collect everything used.
static void vring_interrupt(struct napi *p) {
  uint64_t t0 = __rdtsc();
  if (p->cb_enabled && driver_has_used(p->d)) {
    int32_t token;
    uint32_t len;
    uint64_t n = 0;
    while (driver_get_buf(p->d, &token, &len)) n++;
    p->completed += n;
  }
  add_to(&driver_ring_cycles, __rdtsc() - t0);
}

// WorkerBus.waitInterrupt: sleep until the Irq counter moves (at most
// 5 s), then the MMIO interrupt routine (4.2.3.4: read InterruptStatus,
// acknowledge it, dispatch). A wake can be stale: the device moves Irq, sees
// this side counted in irq_waiters, and may issue its wake only after this
// side has taken that interrupt and gone back to sleep on the new value. So
// a wake with Irq unmoved waits again, until the 5 s are up.
static bool wait_interrupt(struct napi *p) {
  int32_t seen = p->irq_seen;
  if (atomic_load(&ctl[CTL_IRQ]) == seen) {
    int64_t deadline = now_ns(CLOCK_MONOTONIC) + 5000000000;
    for (int64_t left; atomic_load(&ctl[CTL_IRQ]) == seen &&
                       (left = deadline - now_ns(CLOCK_MONOTONIC)) > 0;) {
      struct timespec timeout = {left / 1000000000, left % 1000000000};
      if (wait_word(&ctl[CTL_IRQ], &irq_waiters, seen, &timeout)) bump(&driver_sleeps);
    }
  }
  int32_t now = atomic_load(&ctl[CTL_IRQ]);
  if (now == seen) return false;
  p->irq_seen = now;
  int32_t status = atomic_load(&ctl[CTL_IRQ_STATUS]) & (VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG);
  if (status == 0) return true;
  atomic_fetch_and(&ctl[CTL_IRQ_STATUS], ~status);
  if (status & VIRTIO_MMIO_INT_VRING) vring_interrupt(p);
  return true;
}

// NAPI's loop (workerRig's poll): callbacks off while there is work; every
// batch there is room for, then one kick; used buffers collected without
// waiting; with nothing to do, re-arm for 3/4 of what is outstanding and
// sleep until the interrupt.
static void napi_poll(struct napi *p, const struct sg *sg, uint32_t batch, uint64_t rounds,
                      uint64_t depth) {
  uint64_t start = p->completed, end = start + rounds * batch, sent = 0;
  p->cb_enabled = false;
  driver_disable_cb(p->d);
  while (p->completed < end) {
    uint64_t t0 = __rdtsc();
    bool added = false;
    while (sent < rounds && (sent + 1) * batch - (p->completed - start) <= depth * batch) {
      for (uint32_t i = 0; i < batch; i++) driver_add(p->d, sg, 1, NULL, 0, (int32_t)i);
      sent++;
      added = true;
    }
    // QueueNotify: a kick flag and the doorbell (worker.ts's WorkerBus.write).
    bool notify = added && driver_kick_prepare(p->d);
    add_to(&driver_ring_cycles, __rdtsc() - t0);
    if (notify) {
      bump(&kicks);
      atomic_store(&ctl[CTL_KICKS + 0], 1);
      atomic_fetch_add(&ctl[CTL_DOORBELL], 1);
      notify_word(&ctl[CTL_DOORBELL], &doorbell_waiters);
    }
    t0 = __rdtsc();
    uint64_t n = 0;
    int32_t token;
    uint32_t len;
    while (driver_get_buf(p->d, &token, &len)) n++;
    p->completed += n;
    bool sleep = n == 0 && p->completed < end;
    if (sleep) p->cb_enabled = true;
    sleep = sleep && driver_enable_cb_delayed(p->d);
    add_to(&driver_ring_cycles, __rdtsc() - t0);
    if (n > 0 || p->completed >= end) continue;
    if (sleep && !wait_interrupt(p)) fail("driver: no interrupt within 5 s");
    t0 = __rdtsc();
    p->cb_enabled = false;
    driver_disable_cb(p->d);
    add_to(&driver_ring_cycles, __rdtsc() - t0);
  }
  p->cb_enabled = true;
  driver_enable_cb(p->d);
}

static void no_interrupt(void) {
  bump(&interrupts);
}

// bareRig: add a batch, kick, the device serves it at once in this thread,
// the driver collects it and re-arms (what its interrupt path does).
static void single_rounds(struct driver *d, struct device *v, const struct sg *sg, uint32_t batch,
                          uint64_t rounds) {
  for (uint64_t r = 0; r < rounds; r++) {
    uint64_t t0 = __rdtsc();
    for (uint32_t i = 0; i < batch; i++) driver_add(d, sg, 1, NULL, 0, (int32_t)i);
    bool notify = driver_kick_prepare(d);
    add_to(&driver_ring_cycles, __rdtsc() - t0);
    if (notify) {
      bump(&kicks);
      serve_timed(v, no_interrupt);
    }
    t0 = __rdtsc();
    uint32_t n = 0;
    int32_t token;
    uint32_t len;
    while (driver_get_buf(d, &token, &len)) n++;
    driver_enable_cb(d);
    add_to(&driver_ring_cycles, __rdtsc() - t0);
    if (n != batch) fail("single: lost requests");
  }
}

// ---------------------------------------------------------------- main

/** The counters at one moment. */
struct counters {
  uint64_t kicks, interrupts, driver_sleeps, device_sleeps, device_ring, driver_ring, tsc;
  int64_t wall, cpu, driver_cpu, device_cpu;
};

static clockid_t device_clock;

static void snapshot(struct counters *c, bool threads) {
  c->kicks = atomic_load(&kicks);
  c->interrupts = atomic_load(&interrupts);
  c->driver_sleeps = atomic_load(&driver_sleeps);
  c->device_sleeps = atomic_load(&device_sleeps);
  c->device_ring = atomic_load(&device_ring_cycles);
  c->driver_ring = atomic_load(&driver_ring_cycles);
  c->device_cpu = threads ? now_ns(device_clock) : 0;
  c->driver_cpu = now_ns(CLOCK_THREAD_CPUTIME_ID);
  c->tsc = __rdtsc();
  c->wall = now_ns(CLOCK_MONOTONIC);
  c->cpu = now_ns(CLOCK_PROCESS_CPUTIME_ID);
}

// Until the device thread sleeps on the doorbell (its counters then stand still).
static void await_device_asleep(void) {
  while (atomic_load(&doorbell_waiters) == 0) sched_yield();
}

// The CPUs this process may use, read before any thread is pinned.
static cpu_set_t allowed_cpus;

// Pins `thread` to the n-th CPU of allowed_cpus.
static void pin(pthread_t thread, int n) {
  for (int cpu = 0, seen = 0; cpu < CPU_SETSIZE; cpu++) {
    if (!CPU_ISSET(cpu, &allowed_cpus) || seen++ != n) continue;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    if (pthread_setaffinity_np(thread, sizeof one, &one) != 0) fail("pthread_setaffinity_np failed");
    return;
  }
  fail("pinning: fewer CPUs allowed than the placement needs");
}

int main(int argc, char **argv) {
  if (argc != 5 && argc != 6) {
    fprintf(stderr, "usage: %s QUEUE_SIZE BATCH REQUESTS single|threads [split|same]\n", argv[0]);
    return 2;
  }
  unsigned long size = strtoul(argv[1], NULL, 10), batch = strtoul(argv[2], NULL, 10);
  unsigned long long requests = strtoull(argv[3], NULL, 10);
  bool threads = strcmp(argv[4], "threads") == 0;
  if (!threads && strcmp(argv[4], "single") != 0) fail("mode is single or threads");
  const char *placement = argc == 6 ? argv[5] : "any";
  if (strcmp(placement, "any") != 0 && strcmp(placement, "split") != 0 &&
      strcmp(placement, "same") != 0) {
    fail("placement is split (driver and device on two CPUs) or same (both on one)");
  }
  // 2.7: a power of 2, at most 32768.
  if (size < 1 || size > 32768 || (size & (size - 1)) != 0) fail("queue size is a power of 2 up to 32768");
  if (batch < 1 || batch > size || size % batch != 0) fail("batch divides the queue size");
  if (requests < batch || requests % batch != 0) fail("requests is a multiple of the batch");
  struct layout l = layout_for((uint16_t)size);
  if (l.buffer + 64 > MEM_SIZE) fail("queue does not fit guest memory");

  uint8_t *mem = aligned_alloc(4096, MEM_SIZE);
  if (!mem) fail("out of memory");
  memset(mem, 0, MEM_SIZE);
  struct driver d;
  struct device v;
  driver_init(&d, mem, (uint16_t)size);
  device_init(&v, mem, (uint16_t)size);
  const struct sg sg = {l.buffer, 64};
  uint64_t rounds = requests / batch, warm = rounds / 4 > 0 ? rounds / 4 : 1;
  struct counters c0, c1;
  uint64_t done, before;
  if (sched_getaffinity(0, sizeof allowed_cpus, &allowed_cpus) != 0) fail("sched_getaffinity failed");
  if (strcmp(placement, "any") != 0) pin(pthread_self(), 0);
  if (!threads) {
    single_rounds(&d, &v, &sg, (uint32_t)batch, warm);
    before = v.completed;
    snapshot(&c0, false);
    single_rounds(&d, &v, &sg, (uint32_t)batch, rounds);
    snapshot(&c1, false);
    done = v.completed - before;
  } else {
    pthread_t device;
    if (pthread_create(&device, NULL, device_thread, &v) != 0) fail("pthread_create failed");
    if (pthread_getcpuclockid(device, &device_clock) != 0) fail("pthread_getcpuclockid failed");
    if (strcmp(placement, "any") != 0) pin(device, strcmp(placement, "split") == 0 ? 1 : 0);
    struct napi p = {.d = &d, .irq_seen = atomic_load(&ctl[CTL_IRQ]), .cb_enabled = true};
    uint64_t depth = size / batch;
    napi_poll(&p, &sg, (uint32_t)batch, warm, depth);
    before = p.completed;
    // The device's counters are read while it sleeps (it may still be in its last pass).
    await_device_asleep();
    snapshot(&c0, true);
    napi_poll(&p, &sg, (uint32_t)batch, rounds, depth);
    snapshot(&c1, true);
    done = p.completed - before;
    atomic_store(&ctl[CTL_STOP], 1);
    atomic_fetch_add(&ctl[CTL_DOORBELL], 1);
    notify_word(&ctl[CTL_DOORBELL], &doorbell_waiters);
    pthread_join(device, NULL);
    if (v.completed != p.completed) fail("threads: the device completed a different count");
  }
  if (done != requests) fail("lost requests");
  int64_t wall = c1.wall - c0.wall;
  // TSC cycles per ns over the measured run, to turn the ring sections into ns.
  double tsc_per_ns = (double)(c1.tsc - c0.tsc) / (double)wall;
#define DELTA(f) ((unsigned long long)(c1.f - c0.f))
#define CYCLES_NS(f) ((long long)((double)(c1.f - c0.f) / tsc_per_ns))
  printf("RING_RESULT {\"mode\":\"%s\",\"placement\":\"%s\",\"queue\":%lu,\"batch\":%lu,"
         "\"requests\":%llu,\"wall_ns\":%lld,\"cpu_ns\":%lld,\"driver_cpu_ns\":%lld,"
         "\"device_cpu_ns\":%lld,\"driver_ring_ns\":%lld,\"device_ring_ns\":%lld,"
         "\"kicks\":%llu,\"interrupts\":%llu,\"driver_sleeps\":%llu,\"device_sleeps\":%llu}\n",
         argv[4], placement, size, batch, requests, (long long)wall, (long long)(c1.cpu - c0.cpu),
         (long long)(c1.driver_cpu - c0.driver_cpu), (long long)(c1.device_cpu - c0.device_cpu),
         CYCLES_NS(driver_ring), CYCLES_NS(device_ring), DELTA(kicks), DELTA(interrupts),
         DELTA(driver_sleeps), DELTA(device_sleeps));
  return 0;
}
