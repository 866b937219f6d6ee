#define _GNU_SOURCE
#include "signals.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "lock.h"
#include "log.h"
#include "options.h"
#include "os.h"

static const int signals[] = { SIGSEGV, SIGBUS };
static struct sigaction previous[2];
static bool installed;
static hk_lock_t signals_lock = HK_LOCK_INIT;

static void crash_handler(int sig, siginfo_t *info, void *ctx)
{
	unsigned i = sig == SIGBUS;
	hk_message("fatal signal %s at address %p in process %d; hakmem holds %llu mappings, "
		   "%llu MiB",
		   sig == SIGBUS ? "SIGBUS" : "SIGSEGV", info->si_addr, (int)getpid(),
		   (unsigned long long)hk_os_mappings(),
		   (unsigned long long)(hk_os_mapped_bytes() >> 20));
	struct sigaction *prev = &previous[i];
	if (prev->sa_flags & SA_SIGINFO) {
		prev->sa_sigaction(sig, info, ctx);
	} else if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN) {
		prev->sa_handler(sig);
	} else {
		/* Returning re-executes the faulting instruction, which now
		 * meets the default action. */
		sigaction(sig, prev, NULL);
	}
}

void hk_signals_update(void)
{
	bool want = HK_OPT(crash_report) != 0;
	hk_lock(&signals_lock);
	if (want && !installed) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_sigaction = crash_handler;
		sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
		sigemptyset(&sa.sa_mask);
		for (unsigned i = 0; i < 2; i++)
			sigaction(signals[i], &sa, &previous[i]);
		installed = true;
	} else if (!want && installed) {
		for (unsigned i = 0; i < 2; i++)
			sigaction(signals[i], &previous[i], NULL);
		installed = false;
	}
	hk_unlock(&signals_lock);
}
