/* module.c — loading kernel shared objects in this process and calling their
 * entries with DLPack tensors checked against the entry's descriptor. */
#include "compiler-core/runtime/runtime_impl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A loaded object. Owned by the caller of dlc_module_load. */
struct dlc_module {
    void *handle;
    char path[PATH_MAX];
    struct dlc_module *next; /* in the list of loaded modules */
};

/* Loaded modules, so dlc_module_set_threads reaches each one's OpenMP. */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static dlc_module_t *g_modules;
static atomic_int g_threads; /* 0: OpenMP's default */

/* DLPack dtype of each DLC_KDT_* code (dlc_kernel_abi.h's order). */
static const struct {
    uint8_t code, bits;
    const char *name;
} kdt[] = {
    [DLC_KDT_FLOAT32] = {kDLFloat, 32, "float32"}, [DLC_KDT_FLOAT16] = {kDLFloat, 16, "float16"},
    [DLC_KDT_INT8] = {kDLInt, 8, "int8"},          [DLC_KDT_UINT8] = {kDLUInt, 8, "uint8"},
    [DLC_KDT_INT16] = {kDLInt, 16, "int16"},       [DLC_KDT_INT32] = {kDLInt, 32, "int32"},
    [DLC_KDT_INT64] = {kDLInt, 64, "int64"},
#if DLPACK_VERSION >= 80
    [DLC_KDT_BOOL] = {kDLBool, 8, "bool"},
#else
    [DLC_KDT_BOOL] = {kDLUInt, 1, "bool"}, /* TVM's bool before DLPack 0.8 (stored one per byte) */
#endif
};
_Static_assert(sizeof kdt / sizeof kdt[0] == DLC_KDT_BOOL + 1, "kdt table covers every DLC_KDT_* code");

static void set_threads_in(void *handle, int n) {
    if (n <= 0)
        return;
    /* omp_set_num_threads comes from the libgomp every kernel object links. */
    void (*set)(int) = (void (*)(int))dlsym(handle, "omp_set_num_threads");
    if (set)
        set(n);
}

dlc_module_t *dlc_module_load(const char *so_path) {
    if (so_path == NULL) {
        dlc_error(DLC_EINVAL, "dlc_module_load: NULL path");
        return NULL;
    }
    dlc_module_t *m = calloc(1, sizeof *m);
    if (m == NULL) {
        dlc_error(DLC_ENOMEM, "out of memory loading %s", so_path);
        return NULL;
    }
    snprintf(m->path, sizeof m->path, "%s", so_path);
    m->handle = dlopen(so_path, RTLD_NOW | RTLD_LOCAL);
    if (m->handle == NULL) {
        const char *e = dlerror();
        dlc_error(DLC_ELOAD, "cannot load %s: %s", so_path, e ? e : "unknown dlopen error");
        free(m);
        return NULL;
    }
    /* Pin the OpenMP runtime: its worker threads outlive a parallel region,
     * and unloading libgomp with the last module would leave them running
     * unmapped code. */
    void *gomp = dlopen("libgomp.so.1", RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
    if (gomp)
        dlclose(gomp);
    set_threads_in(m->handle, atomic_load(&g_threads));
    pthread_mutex_lock(&g_lock);
    m->next = g_modules;
    g_modules = m;
    pthread_mutex_unlock(&g_lock);
    return m;
}

void dlc_module_destroy(dlc_module_t **pm) {
    if (pm == NULL || *pm == NULL)
        return;
    dlc_module_t *m = *pm;
    pthread_mutex_lock(&g_lock);
    for (dlc_module_t **p = &g_modules; *p; p = &(*p)->next) {
        if (*p == m) {
            *p = m->next;
            break;
        }
    }
    pthread_mutex_unlock(&g_lock);
    dlclose(m->handle);
    free(m);
    *pm = NULL;
}

const dlc_kernel_desc_t *dlc_module_desc(dlc_module_t *m, const char *entry) {
    char sym[256];
    if (m == NULL || entry == NULL || snprintf(sym, sizeof sym, "%s__desc", entry) >= (int)sizeof sym)
        return NULL;
    return (const dlc_kernel_desc_t *)dlsym(m->handle, sym);
}

dlc_kernel_fn dlc_module_func(dlc_module_t *m, const char *entry) {
    if (m == NULL || entry == NULL)
        return NULL;
    void *p = dlsym(m->handle, entry);
    dlc_kernel_fn fn;
    memcpy(&fn, &p, sizeof fn); /* object → function pointer without a pedantic cast warning */
    return fn;
}

void dlc_module_set_threads(int n) {
    atomic_store(&g_threads, n);
    pthread_mutex_lock(&g_lock);
    for (dlc_module_t *m = g_modules; m; m = m->next)
        set_threads_in(m->handle, n);
    pthread_mutex_unlock(&g_lock);
}

static void dtype_str(DLDataType t, char *out, size_t cap) {
    for (size_t i = 0; i < sizeof kdt / sizeof kdt[0]; i++) {
        if (t.code == kdt[i].code && t.bits == kdt[i].bits && t.lanes == 1) {
            snprintf(out, cap, "%s", kdt[i].name);
            return;
        }
    }
    snprintf(out, cap, "(code %u, bits %u, lanes %u)", t.code, t.bits, t.lanes);
}

/* 0, or DLC_EINVAL naming argument i and what differs from the descriptor. */
static int check_arg(const dlc_kernel_desc_t *d, const char *entry, int i, const DLTensor *t) {
    if (t->data == NULL)
        return dlc_error(DLC_EINVAL, "%s argument %d: data is NULL", entry, i);
    if (t->device.device_type != kDLCPU)
        return dlc_error(DLC_EINVAL, "%s argument %d: device type %d, expected CPU (%d)", entry, i,
                         (int)t->device.device_type, (int)kDLCPU);
    int dt = d->dtype[i];
    if (dt < 0 || dt > DLC_KDT_BOOL)
        return dlc_error(DLC_EINVAL, "%s argument %d: descriptor has unknown dtype code %d", entry, i, dt);
    if (t->dtype.code != kdt[dt].code || t->dtype.bits != kdt[dt].bits || t->dtype.lanes != 1) {
        char got[64];
        dtype_str(t->dtype, got, sizeof got);
        return dlc_error(DLC_EINVAL, "%s argument %d: dtype %s, expected %s", entry, i, got, kdt[dt].name);
    }
    if (t->ndim != d->ndim[i])
        return dlc_error(DLC_EINVAL, "%s argument %d: ndim %d, expected %d", entry, i, t->ndim, d->ndim[i]);
    for (int k = 0; k < t->ndim; k++) {
        if (t->shape == NULL)
            return dlc_error(DLC_EINVAL, "%s argument %d: shape is NULL", entry, i);
        if (t->shape[k] != d->shape[i][k])
            return dlc_error(DLC_EINVAL, "%s argument %d: shape[%d] is %lld, expected %lld", entry, i, k,
                             (long long)t->shape[k], (long long)d->shape[i][k]);
    }
    if (t->strides) {
        int64_t expect = 1;
        for (int k = t->ndim - 1; k >= 0; k--) {
            /* A dimension of extent 1 may carry any stride (DLPack allows it). */
            if (t->shape[k] != 1 && t->strides[k] != expect)
                return dlc_error(DLC_EINVAL, "%s argument %d: strides[%d] is %lld, expected %lld (compact row-major)",
                                 entry, i, k, (long long)t->strides[k], (long long)expect);
            expect *= t->shape[k];
        }
    }
    return 0;
}

int dlc_module_call(dlc_module_t *m, const char *entry, DLTensor *args, int nargs) {
    if (m == NULL || entry == NULL || (args == NULL && nargs > 0))
        return dlc_error(DLC_EINVAL, "dlc_module_call: NULL argument");
    const dlc_kernel_desc_t *d = dlc_module_desc(m, entry);
    dlc_kernel_fn fn = dlc_module_func(m, entry);
    if (d == NULL || fn == NULL)
        return dlc_error(DLC_ENOTFOUND, "%s has no entry %s (or no %s__desc)", m->path, entry, entry);
    if (d->abi_version != DLC_KERNEL_ABI_VERSION)
        return dlc_error(DLC_ELOAD, "%s: %s was built for kernel ABI %d, this is ABI %d", m->path, entry,
                         (int)d->abi_version, DLC_KERNEL_ABI_VERSION);
    if (d->nargs < 0 || d->nargs > DLC_KERNEL_MAX_ARGS)
        return dlc_error(DLC_ELOAD, "%s: %s has a bad descriptor (nargs %d)", m->path, entry, (int)d->nargs);
    if (nargs != d->nargs)
        return dlc_error(DLC_EINVAL, "%s takes %d arguments, got %d", entry, (int)d->nargs, nargs);
    void *data[DLC_KERNEL_MAX_ARGS];
    for (int i = 0; i < nargs; i++) {
        int rc = check_arg(d, entry, i, &args[i]);
        if (rc < 0)
            return rc;
        data[i] = (char *)args[i].data + args[i].byte_offset;
    }
    set_threads_in(m->handle, atomic_load(&g_threads));
    int32_t r = fn(data);
    if (r != 0)
        return dlc_error(DLC_ERUNTIME, "kernel %s returned %d", entry, (int)r);
    return 0;
}
