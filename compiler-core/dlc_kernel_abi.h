/* dlc_kernel_abi.h — the binary interface between generated kernels and the
 * programs that load them (module loader, dlc-runner). Generated C embeds this
 * very text, so it must stay self-contained: only <stdint.h> types.
 *
 * For every kernel entry E a generated object exports
 *   int32_t E(void *const *data);        data[i]: argument i's elements
 *   const dlc_kernel_desc_t E__desc;      its arguments and metadata
 * Arguments are inputs first, then outputs; dense row-major, no offsets.
 * The kernel returns 0, or a nonzero code if it could not run. */
#ifndef DLC_KERNEL_ABI_H
#define DLC_KERNEL_ABI_H
#include <stdint.h>

#define DLC_KERNEL_ABI_VERSION 1
#define DLC_KERNEL_MAX_ARGS 16
#define DLC_KERNEL_MAX_DIMS 8

/* dtype codes: the order of DLC_DTYPE_MAP in dlc_te.h */
enum { DLC_KDT_FLOAT32, DLC_KDT_FLOAT16, DLC_KDT_INT8, DLC_KDT_UINT8, DLC_KDT_INT16, DLC_KDT_INT32, DLC_KDT_INT64, DLC_KDT_BOOL };

typedef struct {
    int32_t abi_version;
    int32_t nargs;
    int32_t ndim[DLC_KERNEL_MAX_ARGS];
    int64_t shape[DLC_KERNEL_MAX_ARGS][DLC_KERNEL_MAX_DIMS];
    int32_t dtype[DLC_KERNEL_MAX_ARGS];
    int32_t is_output[DLC_KERNEL_MAX_ARGS];
    double flops;          /* floating point operations of one call */
    const char *name;      /* this entry's symbol */
    const char *ref_name;  /* entry of the naive reference with the same args, or "" */
} dlc_kernel_desc_t;

typedef int32_t (*dlc_kernel_fn)(void *const *data);
#endif
