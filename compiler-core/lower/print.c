/* print.c — the loop IR as indented text, for --print-ir and debugging. */
#include "compiler-core/core_impl.h"

static const char *ann_names[] = {"", "unroll ", "vectorized ", "parallel ", "", "tensorized "};
_Static_assert(sizeof ann_names / sizeof ann_names[0] == DLC_ANN_COUNT, "annotation table");

static void print_stmt(const dlc_stmt_t *s, dlc_strbuf_t *sb, int ind) {
    if (!s) return;
    switch (s->kind) {
    case DLC_STMT_FOR:
        dlc_strbuf_indent(sb, ind);
        if (s->pragma_key) dlc_strbuf_printf(sb, "// pragma %s = %s\n", s->pragma_key, s->pragma_value), dlc_strbuf_indent(sb, ind);
        if (s->ann == DLC_ANN_THREAD) dlc_strbuf_printf(sb, "%s ", dlc_thread_tag_name(s->tag));
        dlc_strbuf_printf(sb, "%sfor %s in [", ann_names[s->ann], s->var->name);
        dlc_expr_print(s->min, sb);
        dlc_strbuf_append(sb, ", +");
        dlc_expr_print(s->extent, sb);
        dlc_strbuf_append(sb, "):\n");
        print_stmt(s->body, sb, ind + 2);
        break;
    case DLC_STMT_LET:
        dlc_strbuf_indent(sb, ind);
        dlc_strbuf_printf(sb, "let %s = ", s->var->name);
        dlc_expr_print(s->value, sb);
        dlc_strbuf_append(sb, "\n");
        print_stmt(s->body, sb, ind);
        break;
    case DLC_STMT_STORE:
        dlc_strbuf_indent(sb, ind);
        dlc_strbuf_printf(sb, "%s[", s->buffer->name);
        dlc_expr_print(s->index, sb);
        dlc_strbuf_append(sb, "] = ");
        dlc_expr_print(s->value, sb);
        dlc_strbuf_append(sb, "\n");
        break;
    case DLC_STMT_IF:
        dlc_strbuf_indent(sb, ind);
        dlc_strbuf_append(sb, "if ");
        dlc_expr_print(s->cond, sb);
        dlc_strbuf_append(sb, ":\n");
        print_stmt(s->then_s, sb, ind + 2);
        if (s->else_s) {
            dlc_strbuf_indent(sb, ind);
            dlc_strbuf_append(sb, "else:\n");
            print_stmt(s->else_s, sb, ind + 2);
        }
        break;
    case DLC_STMT_SEQ:
        for (int i = 0; i < s->n; i++) print_stmt(s->seq[i], sb, ind);
        break;
    case DLC_STMT_ALLOC:
        dlc_strbuf_indent(sb, ind);
        dlc_strbuf_printf(sb, "allocate %s[%s * %lld] in %s\n", s->buffer->name, dlc_dtype_name(s->buffer->dtype),
                          (long long)s->buffer->size, dlc_scope_name(s->buffer->scope));
        print_stmt(s->body, sb, ind);
        break;
    case DLC_STMT_CALL:
        dlc_strbuf_indent(sb, ind);
        dlc_strbuf_printf(sb, "%s(", s->callee);
        for (int i = 0; i < s->n; i++) {
            if (i) dlc_strbuf_append(sb, ", ");
            dlc_expr_print(s->args[i], sb);
        }
        dlc_strbuf_append(sb, ")\n");
        break;
    default: break;
    }
}

void dlc_stmt_print(const dlc_stmt_t *s, dlc_strbuf_t *sb) { print_stmt(s, sb, 0); }

void dlc_func_print(const dlc_lowered_func_t *f, dlc_strbuf_t *sb) {
    dlc_strbuf_printf(sb, "func %s(", f->name);
    for (int i = 0; i < f->n_args; i++) {
        const dlc_buffer_t *b = f->args[i];
        dlc_strbuf_printf(sb, "%s%s: %s[", i ? ", " : "", b->name, dlc_dtype_name(b->dtype));
        for (int d = 0; d < b->ndim; d++) dlc_strbuf_printf(sb, "%s%lld", d ? ", " : "", (long long)b->shape[d]);
        dlc_strbuf_append(sb, "]");
    }
    dlc_strbuf_append(sb, "):\n");
    print_stmt(f->body, sb, 2);
}
