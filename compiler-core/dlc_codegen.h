/* dlc_codegen.h — lowering a schedule into the loop IR, printing that IR,
 * targets, and generating C for CPUs.
 *
 * Usage:
 *   dlc_lowered_func_t *f;
 *   if (dlc_lower(s, "dense", 3, (dlc_tensor_t *[]){A, B, C}, &f) < 0) die(dlc_last_error());
 *   dlc_strbuf_t ir; dlc_strbuf_init(&ir); dlc_stmt_print(f->body, &ir);
 *   dlc_target_t tgt; dlc_target_parse("llvm -mcpu=skylake-avx512", &tgt);
 *   dlc_strbuf_t c; dlc_strbuf_init(&c);
 *   dlc_codegen_c(&f, 1, &tgt, &c);   // a translation unit with dense and dense__desc
 */
#ifndef DLC_CODEGEN_H
#define DLC_CODEGEN_H

#include "compiler-core/dlc_schedule.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- loop IR ---- */
struct dlc_buffer {
    const char *name;
    dlc_dtype_t dtype;
    int64_t size;      /* elements */
    dlc_scope_t scope;
    int arg_index;     /* position in the function's arguments, -1 if internal */
    int ndim;          /* logical shape (for arguments) */
    int64_t shape[DLC_MAX_DIMS];
    int id;
};

typedef enum {
    DLC_STMT_FOR,   /* for var in [min, min + extent): body, with annotation */
    DLC_STMT_LET,   /* var = value; body */
    DLC_STMT_STORE, /* buffer[index] = value */
    DLC_STMT_IF,    /* if (cond) then_s else else_s */
    DLC_STMT_SEQ,   /* seq[0]; ...; seq[n-1] */
    DLC_STMT_ALLOC, /* buffer allocated for body */
    DLC_STMT_CALL,  /* callee(args...) — tensorized micro-kernel */
    DLC_STMT_KIND_COUNT
} dlc_stmt_kind_t;

typedef struct dlc_stmt dlc_stmt_t;
struct dlc_stmt {
    dlc_stmt_kind_t kind;
    dlc_expr_t *var;         /* FOR, LET */
    dlc_expr_t *min, *extent; /* FOR */
    dlc_ann_t ann;           /* FOR */
    dlc_thread_tag_t tag;    /* FOR with DLC_ANN_THREAD */
    const char *pragma_key, *pragma_value; /* FOR, may be NULL */
    dlc_expr_t *value;       /* LET, STORE */
    dlc_buffer_t *buffer;    /* STORE, ALLOC */
    dlc_expr_t *index;       /* STORE */
    dlc_expr_t *cond;        /* IF */
    dlc_stmt_t *then_s, *else_s; /* IF (else may be NULL) */
    int n;                   /* SEQ: statements; CALL: arguments */
    dlc_stmt_t **seq;        /* SEQ */
    dlc_expr_t **args;       /* CALL */
    const char *callee;      /* CALL */
    dlc_stmt_t *body;        /* FOR, LET, ALLOC */
};

typedef struct {
    const char *name;
    int n_args;
    dlc_buffer_t **args;     /* inputs then outputs, as given to dlc_lower */
    int n_outputs;           /* the last n_outputs args are written */
    dlc_stmt_t *body;
    int n_intrins;
    const dlc_intrin_decl_t **intrins; /* tensorize micro-kernels used */
    double flops;            /* set by the caller for descriptors/reports */
    const char *ref_name;    /* entry of the reference kernel, or NULL */
} dlc_lowered_func_t;

/* Lowers schedule s into a function named `name` whose arguments are args
 * (placeholders and outputs; outputs must be stages of s). The result lives in
 * the schedule's context. n_outputs: how many trailing args are outputs. */
int dlc_lower(dlc_schedule_t *s, const char *name, int n_args, dlc_tensor_t *const *args, int n_outputs,
              dlc_lowered_func_t **out);
/* Lowers the naive schedule of the same outputs (the reference). */
int dlc_lower_reference(dlc_ctx_t *ctx, const char *name, int n_args, dlc_tensor_t *const *args, int n_outputs,
                        dlc_lowered_func_t **out);
void dlc_stmt_print(const dlc_stmt_t *s, dlc_strbuf_t *sb);
void dlc_func_print(const dlc_lowered_func_t *f, dlc_strbuf_t *sb);

/* ---- targets (TVM's syntax) ---- */
/* OpenCL, Vulkan and ROCm parse (TopHub logs name them) but have no code generator. */
typedef enum {
    DLC_TARGET_LLVM, DLC_TARGET_CUDA, DLC_TARGET_EXT_DEV, DLC_TARGET_OPENCL, DLC_TARGET_VULKAN, DLC_TARGET_ROCM,
    DLC_TARGET_KIND_COUNT
} dlc_target_kind_t;
typedef enum { DLC_ARCH_X86_64, DLC_ARCH_AARCH64, DLC_ARCH_RISCV64, DLC_ARCH_ARMV7, DLC_ARCH_GPU, DLC_ARCH_VTA, DLC_ARCH_COUNT } dlc_arch_t;

typedef struct {
    char str[256];           /* as given (canonical spacing) */
    dlc_target_kind_t kind;
    dlc_arch_t arch;
    char device[32];         /* -device=, e.g. arm_cpu, vta; "" if none */
    char model[64];          /* -model= */
    char mcpu[64];           /* -mcpu= */
    char mtriple[64];        /* -mtriple= */
    char mattr[128];         /* -mattr= */
    char keys[8][32];        /* template keys, most specific first: x86, arm_cpu, cpu / cuda, gpu */
    int n_keys;
    int vector_bytes;        /* preferred SIMD width for generated vectors (16, 32, 64) */
    int is_host;             /* artifacts run natively on this machine */
    char cc[64];             /* C compiler */
    char cflags[256];        /* architecture flags for cc */
    char exec_wrapper[128];  /* e.g. "qemu-aarch64 -L /usr/aarch64-linux-gnu", "" if native */
} dlc_target_t;

/* Parses "llvm -mcpu=skylake-avx512", "llvm -device=arm_cpu -mtriple=aarch64-linux-gnu",
 * "c", "cuda -model=a100", "ext_dev -device=vta". Errors name the bad part (DLC_ETARGET). */
int dlc_target_parse(const char *s, dlc_target_t *out);
const char *dlc_arch_name(dlc_arch_t a);
const char *dlc_target_kind_name(dlc_target_kind_t k);

/* ---- C code generation ---- */
/* One translation unit with every function, its descriptor and the
 * micro-kernels they call. Appends to out. */
int dlc_codegen_c(dlc_lowered_func_t *const *funcs, int n, const dlc_target_t *target, dlc_strbuf_t *out);

#ifdef __cplusplus
}
#endif
#endif
