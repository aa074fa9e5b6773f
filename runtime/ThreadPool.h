/* The thread pool: who runs the parallel loops of generated code.
 *
 * Halide's own pool puts its workers to sleep almost as soon as a parallel loop ends, and waking
 * them again costs tens of microseconds, longer than many of a model's loops take: a batch-1
 * prediction or a small model's train step ran its loops on little more than one thread. These
 * workers instead wait for the next loop spinning (yielding the core to anything else runnable)
 * for up to NETC_POOL_SPIN_NS after their last task, as OpenMP runtimes do, and then sleep.
 *
 * Both the JIT (compiler/Jit.cpp) and every AOT object (its wrappers install it as Halide's
 * do_par_for on their first call) use this one implementation; in an object its symbols are weak,
 * so several model objects linked into one program share one pool.
 *
 * Threads: HL_NUM_THREADS if set, else one per online processor; the caller is one of them.
 * Thread safety: one parallel loop runs on the pool at a time. A loop started while another runs
 * (from another thread, or from inside a task) runs on its caller's thread alone.
 */
#ifndef NETC_THREAD_POOL_H
#define NETC_THREAD_POOL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* halide_do_par_for_t: runs task(user_context, i, closure) for i in [min, min + size) and returns
 * 0, or the first nonzero result of a task (the loop's remaining tasks are then skipped). */
int netc_do_par_for(void *user_context, int (*task)(void *, int, uint8_t *), int min, int size,
                    uint8_t *closure);

#ifdef __cplusplus
}
#endif

#endif /* NETC_THREAD_POOL_H */
