/* support_internal.h — private hooks shared between support/ source files. */
#ifndef DLC_SUPPORT_INTERNAL_H
#define DLC_SUPPORT_INTERNAL_H

/* Erases the progress bar line currently drawn on stderr (if any) so that a
 * log line can be printed cleanly; the bar is redrawn on its next update.
 * Call with stderr locked (flockfile). */
void dlc__progress_clear_line(void);

#endif
