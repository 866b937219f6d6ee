/* The opt-in crash report (option crash_report): on SIGSEGV or SIGBUS,
 * one line on stderr with the signal, the faulting address and hakmem's
 * mapping figures, then the program's previous handler runs (or the
 * default action, which ends the process as it would have). */
#ifndef HK_SIGNALS_H
#define HK_SIGNALS_H

/* Install or remove the handlers to match hk_opt.crash_report. */
void hk_signals_update(void);

#endif
