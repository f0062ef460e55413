/* bench_peers.h — the libraries bench_templates compares dlc against, timed
 * in this process the way dlc-runner times a kernel: one warm-up call, the
 * number of calls per repeat grown until a repeat lasts min_repeat_ms, then
 * `repeat` repeats; the result is the best repeat (seconds per call).
 *
 * Usage:
 *   peer_timing_t tm = {10, 50.0};
 *   peer_result_t r;
 *   if (peer_sgemm_nt(1024, 1024, 1024, 2, &tm, &r) == 0) printf("%g s (%s)\n", r.best_s, r.impl);
 */
#ifndef DLC_BENCH_PEERS_H
#define DLC_BENCH_PEERS_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int repeat;           /* timed repeats; the best is reported */
    double min_repeat_ms; /* calls per repeat grow until a repeat lasts this long */
} peer_timing_t;

typedef struct {
    double best_s;     /* seconds per call, best repeat */
    double median_s;   /* seconds per call, median repeat */
    int number;        /* calls per repeat */
    double max_err;    /* largest |peer - naive| over sampled outputs */
    char impl[160];    /* what ran: library, implementation, layouts */
} peer_result_t;

/* Times the best-or-median of a callable as above (u is passed through). */
void peer_time(void (*fn)(void *), void *u, const peer_timing_t *t, peer_result_t *out);

/* OpenBLAS cblas_sgemm, C[M,N] = A[M,K]·B[N,K]ᵀ (row major, NT), on `threads`
 * threads. For M = 1 cblas_sgemv is timed too and the faster is reported (the
 * peer at its best). Spot-checks 256 outputs against a naive dot product. 0 or -1. */
int peer_sgemm_nt(int64_t M, int64_t N, int64_t K, int threads, const peer_timing_t *t, peer_result_t *out);
/* Call first in main(): OpenBLAS picks its kernels when it is loaded, and
 * Debian's 0.3.21 takes AVX-512 CPUs it does not know (Zen 5, some VMs) for
 * Haswell and runs at half speed; on a CPU with avx512f and no
 * OPENBLAS_CORETYPE set, this sets SkylakeX and re-executes the program. */
void peer_openblas_at_its_best(char **argv);
/* A one-line description of the OpenBLAS build (core and config). */
void peer_sgemm_describe(char *out, size_t cap);

/* oneDNN f32 forward-inference convolution, NCHW data [N,C,H,W] and OIHW
 * kernel [K,C,R,S], stride and symmetric padding; oneDNN picks the layouts
 * (format_tag any) and the inputs are reordered into them before timing. The
 * algorithm is `direct`, and `auto` is also tried: the faster one is kept.
 * Spot-checks 256 outputs against a naive convolution. 0, or -1 with a
 * message in out->impl. */
int peer_dnnl_conv(const int64_t shape[9], int threads, const peer_timing_t *t, peer_result_t *out);
/* The oneDNN version and CPU runtime. */
void peer_dnnl_describe(char *out, size_t cap);
#endif
