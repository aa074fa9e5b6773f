/* The workspace (runtime/Workspace.h): a cache of freed blocks, by size.
 *
 * Each block has a header in the 128 bytes before the pointer handed out: its size and, while
 * free, the next free block. A pipeline allocates the same sizes in the same order every call,
 * so an exact-size match (sizes rounded up to 128 bytes) finds every block after the first call;
 * a batch of another size adds blocks of its own beside them. */
#include "runtime/Workspace.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#ifndef NETC_WORKSPACE_WEAK
#define NETC_WORKSPACE_WEAK
#endif

#define NETC_WORKSPACE_ALIGN 128
#define NETC_WORKSPACE_LIMIT ((size_t)4 << 30) /* free bytes kept at most */

typedef struct netc_block {
    size_t size; /* usable bytes, a multiple of NETC_WORKSPACE_ALIGN */
    struct netc_block *next;
} netc_block;

static pthread_mutex_t netc_workspace_mutex = PTHREAD_MUTEX_INITIALIZER;
static netc_block *netc_workspace_free_list = NULL;
static size_t netc_workspace_free_bytes = 0, netc_workspace_held = 0;

static netc_block *netc_header(void *ptr) {
    return (netc_block *)((uint8_t *)ptr - NETC_WORKSPACE_ALIGN);
}

NETC_WORKSPACE_WEAK void *netc_workspace_malloc(void *user_context, size_t size) {
    netc_block **link, *b = NULL;
    void *memory = NULL;
    (void)user_context;
    size = (size + NETC_WORKSPACE_ALIGN - 1) / NETC_WORKSPACE_ALIGN * NETC_WORKSPACE_ALIGN;
    pthread_mutex_lock(&netc_workspace_mutex);
    for (link = &netc_workspace_free_list; *link; link = &(*link)->next) {
        if ((*link)->size == size) {
            b = *link;
            *link = b->next;
            netc_workspace_free_bytes -= size;
            break;
        }
    }
    pthread_mutex_unlock(&netc_workspace_mutex);
    if (!b) {
        if (posix_memalign(&memory, NETC_WORKSPACE_ALIGN, NETC_WORKSPACE_ALIGN + size) != 0) {
            return NULL;
        }
        b = (netc_block *)memory;
        b->size = size;
        pthread_mutex_lock(&netc_workspace_mutex);
        netc_workspace_held += size;
        pthread_mutex_unlock(&netc_workspace_mutex);
    }
    b->next = NULL;
    return (uint8_t *)b + NETC_WORKSPACE_ALIGN;
}

NETC_WORKSPACE_WEAK void netc_workspace_free(void *user_context, void *ptr) {
    netc_block *b;
    (void)user_context;
    if (!ptr) return;
    b = netc_header(ptr);
    pthread_mutex_lock(&netc_workspace_mutex);
    if (netc_workspace_free_bytes + b->size <= NETC_WORKSPACE_LIMIT) {
        b->next = netc_workspace_free_list;
        netc_workspace_free_list = b;
        netc_workspace_free_bytes += b->size;
        b = NULL;
    } else {
        netc_workspace_held -= b->size;
    }
    pthread_mutex_unlock(&netc_workspace_mutex);
    free(b);
}

NETC_WORKSPACE_WEAK void netc_workspace_release(void) {
    netc_block *list;
    pthread_mutex_lock(&netc_workspace_mutex);
    list = netc_workspace_free_list;
    netc_workspace_free_list = NULL;
    netc_workspace_held -= netc_workspace_free_bytes;
    netc_workspace_free_bytes = 0;
    pthread_mutex_unlock(&netc_workspace_mutex);
    while (list) {
        netc_block *next = list->next;
        free(list);
        list = next;
    }
}

NETC_WORKSPACE_WEAK size_t netc_workspace_bytes(void) {
    size_t held;
    pthread_mutex_lock(&netc_workspace_mutex);
    held = netc_workspace_held;
    pthread_mutex_unlock(&netc_workspace_mutex);
    return held;
}
