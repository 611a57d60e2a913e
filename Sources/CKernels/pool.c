// The engine's worker pool (see ckernels.h). One job at a time; parts are claimed with an atomic
// counter, so uneven parts balance themselves.
#include "ckernels.h"

#include <pthread.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <stdatomic.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
static inline void relax(void) { _mm_pause(); }
#else
static inline void relax(void) {}
#endif

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int pool_threads = 1;
static long spin_ns = 100000;

static atomic_long epoch;           // bumped once per job: the workers' signal
static atomic_long next_part;       // next unclaimed part of the current job
static atomic_long done_parts;      // parts finished
static atomic_flag busy = ATOMIC_FLAG_INIT;
static long job_parts;
static mgpt_task_fn job_fn;
static void *job_ctx;

static pthread_mutex_t sleep_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static int sleepers;

static long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)t.tv_sec * 1000000000L + t.tv_nsec;
}

static void work(void) {
    for (;;) {
        long i = atomic_fetch_add_explicit(&next_part, 1, memory_order_acq_rel);
        if (i >= job_parts) return;
        job_fn(job_ctx, i);
        atomic_fetch_add_explicit(&done_parts, 1, memory_order_release);
    }
}

static void *worker(void *arg) {
    (void)arg;
    long seen = atomic_load_explicit(&epoch, memory_order_acquire);
    for (;;) {
        long start = now_ns();
        int spins = 0;
        while (atomic_load_explicit(&epoch, memory_order_acquire) == seen) {
            relax();
            if (++spins % 64 == 0 && now_ns() - start > spin_ns) {
                pthread_mutex_lock(&sleep_lock);
                sleepers++;
                while (atomic_load_explicit(&epoch, memory_order_acquire) == seen) pthread_cond_wait(&wake, &sleep_lock);
                sleepers--;
                pthread_mutex_unlock(&sleep_lock);
            }
        }
        seen = atomic_load_explicit(&epoch, memory_order_acquire);
        work();
    }
    return 0;
}

static int init_threads = 1;
static long init_spin_us = 100;

static void start(void) {
    pool_threads = init_threads < 1 ? 1 : init_threads;
    spin_ns = init_spin_us * 1000;
    for (int t = 1; t < pool_threads; t++) {
        pthread_t th;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&th, &attr, worker, 0) != 0) { pool_threads = t; break; }
        pthread_attr_destroy(&attr);
    }
}

void mgpt_pool_init(int threads, long spin_microseconds) {
    init_threads = threads;
    init_spin_us = spin_microseconds;
    pthread_once(&once, start);
}

void mgpt_pool_run(long parts, mgpt_task_fn fn, void *ctx) {
    pthread_once(&once, start);
    if (parts <= 0) return;
    if (parts == 1 || pool_threads == 1 || atomic_flag_test_and_set_explicit(&busy, memory_order_acquire)) {
        for (long i = 0; i < parts; i++) fn(ctx, i);
        return;
    }
    job_fn = fn;
    job_ctx = ctx;
    job_parts = parts;
    atomic_store_explicit(&done_parts, 0, memory_order_relaxed);
    atomic_store_explicit(&next_part, 0, memory_order_release);
    atomic_fetch_add_explicit(&epoch, 1, memory_order_release);
    pthread_mutex_lock(&sleep_lock);
    if (sleepers > 0) pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&sleep_lock);
    work();
    while (atomic_load_explicit(&done_parts, memory_order_acquire) < parts) relax();
    job_fn = 0;
    job_ctx = 0;
    atomic_flag_clear_explicit(&busy, memory_order_release);
}

void mgpt_tune_allocator(long mmap_threshold, long trim_threshold) {
#if defined(__GLIBC__)
    if (mmap_threshold > 0) mallopt(M_MMAP_THRESHOLD, (int)mmap_threshold);
    if (trim_threshold > 0) mallopt(M_TRIM_THRESHOLD, (int)trim_threshold);
#else
    (void)mmap_threshold;
    (void)trim_threshold;
#endif
}
