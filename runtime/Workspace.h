/* The workspace: where generated code keeps its intermediate buffers between calls.
 *
 * Halide's generated code allocates each intermediate buffer when a pipeline runs and frees it
 * when the pipeline returns. Through the C library's allocator that costs page faults on every
 * call (large blocks are mapped and unmapped, or trimmed back to the system), at a rate that
 * depends on the host program's allocator state. The workspace keeps freed blocks and hands the
 * same blocks back on the next call, so a training loop allocates nothing after its first step.
 *
 * Both the JIT (compiler/Jit.cpp) and every AOT object (its wrappers install it as Halide's
 * allocator on their first call) use this one implementation; in an object its symbols are weak,
 * so several model objects linked into one program share one workspace.
 *
 * Lifetime: blocks stay cached until netc_workspace_release() or the end of the process.
 * Thread safety: every function may be called from any thread; concurrent calls of a model get
 * blocks of their own. The cache holds at most NETC_WORKSPACE_LIMIT bytes of free blocks.
 */
#ifndef NETC_WORKSPACE_H
#define NETC_WORKSPACE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* halide_malloc_t and halide_free_t: `user_context` is unused. Blocks are 128-byte aligned. */
void *netc_workspace_malloc(void *user_context, size_t size);
void netc_workspace_free(void *user_context, void *ptr);

/* Returns every cached free block to the system (blocks in use stay valid). */
void netc_workspace_release(void);

/* Bytes held by the workspace: in use and cached. */
size_t netc_workspace_bytes(void);

#ifdef __cplusplus
}
#endif

#endif /* NETC_WORKSPACE_H */
