/* The thread pool (runtime/ThreadPool.h): workers that spin between parallel loops.
 *
 * A loop is a job: its caller owns the pool for the loop (pool_owner, taken with a trylock),
 * publishes the job under a new generation in job_state, and takes task indices from job_next
 * like every worker that joins. job_state packs the generation (high 32 bits), a closed bit and
 * the count of workers in the job: a worker joins with a compare-and-swap while the job is open,
 * and the caller, out of tasks, closes it and waits for the count to drop to 0, so no worker
 * touches a job's fields after its caller has returned. Written in C99 with GCC's atomic builtins:
 * the objects' wrappers compile it with -std=c99. */
#include "runtime/ThreadPool.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#ifndef NETC_THREAD_POOL_WEAK
#define NETC_THREAD_POOL_WEAK
#endif

#define NETC_POOL_MAX_WORKERS 255
#define NETC_POOL_SPIN_NS 2000000 /* 2 ms of spinning after the last task, then sleep */
#define NETC_POOL_CLOSED ((uint64_t)1 << 31)
#define NETC_POOL_COUNT (NETC_POOL_CLOSED - 1)

typedef int (*netc_pool_task)(void *, int, uint8_t *);

static pthread_once_t netc_pool_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t netc_pool_owner = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t netc_pool_sleep = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t netc_pool_wake = PTHREAD_COND_INITIALIZER;
static int netc_pool_workers = 0;  /* started */
static int netc_pool_sleepers = 0; /* atomic: workers asleep on netc_pool_wake */

/* The job: written by its caller before it publishes job_state, read by the workers after. */
static netc_pool_task netc_job_task;
static void *netc_job_context;
static uint8_t *netc_job_closure;
static int netc_job_end;
static int netc_job_next;       /* atomic: the next task index */
static int netc_job_status;     /* atomic: the first nonzero result */
static uint64_t netc_job_state; /* atomic: generation << 32 | closed | workers in the job */

static void netc_pool_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static int64_t netc_pool_now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Runs the job's tasks until none is left. */
static void netc_pool_run(void) {
    for (;;) {
        int i = __atomic_fetch_add(&netc_job_next, 1, __ATOMIC_RELAXED);
        if (i >= netc_job_end) return;
        int result = netc_job_task(netc_job_context, i, netc_job_closure);
        if (result != 0) {
            int none = 0;
            __atomic_compare_exchange_n(&netc_job_status, &none, result, 0, __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST);
            __atomic_store_n(&netc_job_next, netc_job_end, __ATOMIC_RELAXED);
        }
    }
}

/* Joins the job of generation `gen` while it is open: 1 when joined. */
static int netc_pool_join(uint32_t gen) {
    uint64_t s = __atomic_load_n(&netc_job_state, __ATOMIC_ACQUIRE);
    while ((uint32_t)(s >> 32) == gen && !(s & NETC_POOL_CLOSED)) {
        if (__atomic_compare_exchange_n(&netc_job_state, &s, s + 1, 1, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE)) {
            return 1;
        }
    }
    return 0;
}

static void *netc_pool_worker(void *unused) {
    uint32_t seen = (uint32_t)(__atomic_load_n(&netc_job_state, __ATOMIC_ACQUIRE) >> 32);
    int64_t idle_since = netc_pool_now_ns();
    unsigned spins = 0;
    (void)unused;
    for (;;) {
        uint32_t gen = (uint32_t)(__atomic_load_n(&netc_job_state, __ATOMIC_ACQUIRE) >> 32);
        if (gen != seen) {
            seen = gen;
            if (netc_pool_join(gen)) {
                netc_pool_run();
                __atomic_fetch_sub(&netc_job_state, 1, __ATOMIC_RELEASE);
            }
            idle_since = netc_pool_now_ns();
            continue;
        }
        netc_pool_pause();
        if (++spins % 64 != 0) continue;
        sched_yield();
        if (netc_pool_now_ns() - idle_since < NETC_POOL_SPIN_NS) continue;
        /* Asleep until a caller publishes another generation (it wakes sleepers after). */
        pthread_mutex_lock(&netc_pool_sleep);
        __atomic_fetch_add(&netc_pool_sleepers, 1, __ATOMIC_SEQ_CST);
        while ((uint32_t)(__atomic_load_n(&netc_job_state, __ATOMIC_SEQ_CST) >> 32) == seen) {
            pthread_cond_wait(&netc_pool_wake, &netc_pool_sleep);
        }
        __atomic_fetch_sub(&netc_pool_sleepers, 1, __ATOMIC_SEQ_CST);
        pthread_mutex_unlock(&netc_pool_sleep);
    }
    return NULL;
}

static void netc_pool_start(void) {
    const char *env = getenv("HL_NUM_THREADS");
    long threads = env && *env ? strtol(env, NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);
    long workers = threads - 1;
    pthread_attr_t attr;
    if (workers > NETC_POOL_MAX_WORKERS) workers = NETC_POOL_MAX_WORKERS;
    if (pthread_attr_init(&attr) != 0) return;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    for (long w = 0; w < workers; w++) {
        pthread_t thread;
        if (pthread_create(&thread, &attr, netc_pool_worker, NULL) != 0) break;
        netc_pool_workers++;
    }
    pthread_attr_destroy(&attr);
}

NETC_THREAD_POOL_WEAK int netc_do_par_for(void *user_context, int (*task)(void *, int, uint8_t *),
                                          int min, int size, uint8_t *closure) {
    pthread_once(&netc_pool_once, netc_pool_start);
    if (size <= 1 || netc_pool_workers == 0 || pthread_mutex_trylock(&netc_pool_owner) != 0) {
        for (int i = min; i < min + size; i++) {
            int result = task(user_context, i, closure);
            if (result != 0) return result;
        }
        return 0;
    }
    netc_job_task = task;
    netc_job_context = user_context;
    netc_job_closure = closure;
    netc_job_end = min + size;
    __atomic_store_n(&netc_job_status, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&netc_job_next, min, __ATOMIC_RELAXED);
    uint32_t gen = (uint32_t)(__atomic_load_n(&netc_job_state, __ATOMIC_RELAXED) >> 32) + 1;
    __atomic_store_n(&netc_job_state, (uint64_t)gen << 32, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&netc_pool_sleepers, __ATOMIC_SEQ_CST) > 0) {
        pthread_mutex_lock(&netc_pool_sleep);
        pthread_cond_broadcast(&netc_pool_wake);
        pthread_mutex_unlock(&netc_pool_sleep);
    }
    netc_pool_run();
    /* Closed: no worker joins any more; wait for those in the job to leave it. */
    uint64_t s = __atomic_or_fetch(&netc_job_state, NETC_POOL_CLOSED, __ATOMIC_ACQ_REL);
    while (s & NETC_POOL_COUNT) {
        netc_pool_pause();
        s = __atomic_load_n(&netc_job_state, __ATOMIC_ACQUIRE);
    }
    int status = __atomic_load_n(&netc_job_status, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&netc_pool_owner);
    return status;
}
