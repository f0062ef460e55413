/* progress.c — single-line terminal progress bar on stderr, ~10 Hz redraw. */
#include "support/dlc_support.h"
#include "support/support_internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define PROGRESS_MIN_INTERVAL 0.1 /* seconds between redraws */
#define PROGRESS_BAR_WIDTH 24

struct dlc_progress {
    char *label;
    int64_t total;
    int64_t done;
    int enabled, tty;
    int dirty; /* updated since last drawn */
    double start, last_draw;
    char status[160];
};

/* The bar currently on screen and the width of what it drew; both guarded by
 * the stdio lock of stderr (flockfile), which dlc_log also holds. */
static dlc_progress_t *g_active;
static size_t g_drawn;

void dlc__progress_clear_line(void) {
    if (g_active == NULL || g_drawn == 0)
        return;
    fprintf(stderr, "\r%*s\r", (int)g_drawn, "");
    g_drawn = 0;
    g_active->last_draw = 0; /* redraw at the next update */
}

static void fmt_duration(char *buf, size_t n, double s) {
    if (s < 0 || s != s)
        s = 0;
    int t = s > 359999 ? 359999 : (int)(s + 0.5); /* at most 99:59:59 */
    if (t >= 3600)
        snprintf(buf, n, "%d:%02d:%02d", t / 3600 % 100, t / 60 % 60, t % 60);
    else
        snprintf(buf, n, "%02d:%02d", t / 60 % 60, t % 60);
}

static int term_width(const dlc_progress_t *p) {
    struct winsize ws;
    if (p->tty && ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return 100;
}

/* Call with stderr locked. */
static void progress_draw(dlc_progress_t *p, double now) {
    dlc_strbuf_t sb;
    dlc_strbuf_init(&sb);
    double elapsed = now - p->start;
    char el[32], eta[32];
    fmt_duration(el, sizeof el, elapsed);
    dlc_strbuf_printf(&sb, "%s ", p->label);
    if (p->total > 0) {
        int64_t done = p->done < 0 ? 0 : p->done > p->total ? p->total : p->done;
        double frac = (double)done / (double)p->total;
        int fill = (int)(frac * PROGRESS_BAR_WIDTH);
        dlc_strbuf_append(&sb, "[");
        for (int i = 0; i < PROGRESS_BAR_WIDTH; i++)
            dlc_strbuf_append(&sb, i < fill ? "#" : i == fill ? ">" : ".");
        dlc_strbuf_printf(&sb, "] %lld/%lld %3d%% %s", (long long)p->done, (long long)p->total, (int)(frac * 100),
                          el);
        if (done > 0 && done < p->total) {
            fmt_duration(eta, sizeof eta, elapsed / (double)done * (double)(p->total - done));
            dlc_strbuf_printf(&sb, " eta %s", eta);
        }
    } else {
        dlc_strbuf_printf(&sb, "%lld done %s", (long long)p->done, el);
    }
    if (p->status[0])
        dlc_strbuf_printf(&sb, " %s", p->status);

    /* Never wrap (a wrapped line cannot be redrawn with \r). */
    size_t width = (size_t)term_width(p) - 1;
    if (sb.len > width) {
        sb.len = width;
        sb.data[width] = '\0';
    }
    if (g_active != p && g_active != NULL && g_drawn > 0) /* another bar was drawn: leave it */
        fputc('\n', stderr);
    size_t pad = (g_active == p && g_drawn > sb.len) ? g_drawn - sb.len : 0;
    fprintf(stderr, "\r%s%*s", sb.data, (int)pad, "");
    if (pad)
        fprintf(stderr, "\r%s", sb.data);
    fflush(stderr);
    g_active = p;
    g_drawn = sb.len;
    p->last_draw = now;
    p->dirty = 0;
    dlc_strbuf_free(&sb);
}

dlc_progress_t *dlc_progress_new(const char *label, int64_t total, int force) {
    dlc_progress_t *p = calloc(1, sizeof *p);
    if (p == NULL) {
        dlc_error(DLC_ENOMEM, "cannot allocate a progress bar");
        return NULL;
    }
    p->label = strdup(label ? label : "");
    if (p->label == NULL) {
        free(p);
        dlc_error(DLC_ENOMEM, "cannot allocate a progress bar");
        return NULL;
    }
    p->total = total;
    p->tty = isatty(STDERR_FILENO);
    p->enabled = p->tty || force;
    p->start = dlc_now();
    return p;
}

void dlc_progress_update(dlc_progress_t *p, int64_t done, const char *status) {
    if (p == NULL || !p->enabled)
        return;
    flockfile(stderr);
    p->done = done;
    p->dirty = 1;
    snprintf(p->status, sizeof p->status, "%s", status ? status : "");
    for (char *c = p->status; *c; c++) /* keep it on one line */
        if (*c == '\n' || *c == '\r' || *c == '\t')
            *c = ' ';
    double now = dlc_now();
    int finished = p->total > 0 && done >= p->total;
    if (finished || p->last_draw == 0 || now - p->last_draw >= PROGRESS_MIN_INTERVAL)
        progress_draw(p, now);
    funlockfile(stderr);
}

void dlc_progress_destroy(dlc_progress_t **pp) {
    if (pp == NULL || *pp == NULL)
        return;
    dlc_progress_t *p = *pp;
    if (p->enabled) {
        flockfile(stderr);
        if (p->dirty || g_active != p || g_drawn == 0) /* final state, then end the line */
            progress_draw(p, dlc_now());
        fputc('\n', stderr);
        fflush(stderr);
        g_active = NULL;
        g_drawn = 0;
        funlockfile(stderr);
    }
    free(p->label);
    free(p);
    *pp = NULL;
}
