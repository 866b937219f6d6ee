/* Start-up configuration: /etc/hakmem.conf (here the file HAKMEM_CONF
 * names), the HAKMEM_* environment and the original project's names, their
 * precedence (hakmem_ctl > environment > file > default), one message per
 * bad value or unknown name, the ownership rule for the file, AT_SECURE,
 * HAKMEM_STATS, the debug log (debug builds) and the crash report.
 *
 * Options are read once, at start-up, so each case runs this program again
 * (/proc/self/exe) in a child with its own environment; the child prints the
 * options it sees, the parent checks them and the child's stderr. */
/* hakmem-test: no-valgrind */
#include "../lib/check.h"

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "hakmem.h"

static char conf_path[256];

/* --- Child side. -------------------------------------------------------- */

static void print_options(void)
{
	free(hk_launder(malloc(64)));	/* the options are in force from here */
	size_t len = 0;
	hakmem_ctl("ctl.names", NULL, &len, NULL, 0);
	char *text = malloc(len);
	hakmem_ctl("ctl.names", text, &len, NULL, 0);
	for (char *line = text; *line;) {
		char *nl = strchr(line, '\n'), name[64], type[8];
		*nl = '\0';
		if (sscanf(line, "%63[^\t]\t%7[^\t]", name, type) == 2 && !strncmp(name, "opt.", 4)) {
			size_t l;
			if (!strcmp(type, "u64")) {
				uint64_t v;
				l = sizeof v;
				hakmem_ctl(name, &v, &l, NULL, 0);
				printf("%s=%llu\n", name, (unsigned long long)v);
			} else if (!strcmp(type, "bool")) {
				bool v;
				l = sizeof v;
				hakmem_ctl(name, &v, &l, NULL, 0);
				printf("%s=%d\n", name, v);
			} else {
				const char *v;
				l = sizeof v;
				hakmem_ctl(name, &v, &l, NULL, 0);
				printf("%s=%s\n", name, v);
			}
		}
		line = nl + 1;
	}
	free(text);
}

static void on_segv(int sig)
{
	(void)sig;
	static const char msg[] = "program handler ran\n";
	if (write(2, msg, sizeof msg - 1) < 0)
		_exit(43);
	_exit(42);
}

static int child(const char *mode)
{
	if (!strcmp(mode, "print")) {
		print_options();
	} else if (!strcmp(mode, "ctl-over-env")) {
		uint64_t v = 11;
		hakmem_ctl("opt.superslab_reserve", NULL, NULL, &v, sizeof v);
		print_options();
	} else if (!strcmp(mode, "crash")) {
		free(hk_launder(malloc(64)));
		signal(SIGSEGV, on_segv);
		bool on = true;
		hakmem_ctl("opt.crash_report", NULL, NULL, &on, sizeof on);
		*(volatile int *)hk_launder(NULL) = 1;
	} else if (!strcmp(mode, "alloc")) {
		for (int i = 0; i < 1000; i++)
			free(hk_launder(malloc(1000)));
	}
	fflush(stdout);
	return 0;
}

/* --- Parent side. ------------------------------------------------------- */

static bool has(const struct hk_exec *r, const char *line)
{
	char want[128];
	snprintf(want, sizeof want, "%s\n", line);
	return strstr(r->out, want) != NULL;
}

static int count(const char *text, const char *needle)
{
	int n = 0;
	for (const char *p = text; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void write_conf(const char *text, mode_t mode)
{
	unlink(conf_path);
	int fd = open(conf_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	fchmod(fd, mode);
	close(fd);
}

static char env_conf[300];

int main(int argc, char **argv)
{
	if (argc > 1)
		return child(argv[1]);

	char exe[256];
	hk_self_exe(exe, sizeof exe);
	snprintf(conf_path, sizeof conf_path, "/tmp/hakmem-config-test.%d.conf", (int)getpid());
	snprintf(env_conf, sizeof env_conf, "HAKMEM_CONF=%s", conf_path);
	struct hk_exec r;

	/* Defaults, with no file. */
	const char *const none[] = { "HAKMEM_CONF=/nonexistent/hakmem.conf", NULL };
	hk_exec_capture(&r, exe, "print", none, 0);
	CHECK(has(&r, "opt.superslab_lg=21") && has(&r, "opt.superslab_reserve=2") &&
		      has(&r, "opt.trim=1") && has(&r, "opt.trim_interval_ms=0") &&
		      has(&r, "opt.thread_cache=1") && has(&r, "opt.misuse=abort") &&
		      has(&r, "opt.stats_print=0") && has(&r, "opt.crash_report=0"),
	      "built-in defaults");
	CHECK(r.err[0] == '\0', "no message without settings (%s)", r.err);

	/* The file. */
	write_conf("# hakmem settings\n"
		   "superslab_lg = 20\n"
		   "  superslab_reserve=7   # trailing comment\n"
		   "opt.trim_interval_ms = 500\n"
		   "misuse = report\n"
		   "thread_cache = off\n"
		   "\n",
		   0644);
	const char *const file_only[] = { env_conf, NULL };
	hk_exec_capture(&r, exe, "print", file_only, 0);
	CHECK(has(&r, "opt.superslab_lg=20") && has(&r, "opt.superslab_reserve=7") &&
		      has(&r, "opt.trim_interval_ms=500") && has(&r, "opt.misuse=report") &&
		      has(&r, "opt.thread_cache=0"),
	      "the file sets every kind of value");
	CHECK(r.err[0] == '\0', "a good file gives no message (%s)", r.err);

	/* Precedence: environment over file, hakmem_ctl over environment. */
	const char *const env_over[] = { env_conf, "HAKMEM_SUPERSLAB_RESERVE=3",
					 "HAKMEM_MISUSE=abort", NULL };
	hk_exec_capture(&r, exe, "print", env_over, 0);
	CHECK(has(&r, "opt.superslab_reserve=3") && has(&r, "opt.misuse=abort") &&
		      has(&r, "opt.trim_interval_ms=500"),
	      "the environment overrides the file, the rest of the file stays");
	hk_exec_capture(&r, exe, "ctl-over-env", env_over, 0);
	CHECK(has(&r, "opt.superslab_reserve=11"), "hakmem_ctl overrides the environment");

	/* Bad values and unknown names: one line each, defaults kept. */
	write_conf("trim_interval_ms = soon\nno_such_setting = 1\njust words\nsuperslab_lg = 22\n",
		   0644);
	const char *const bad[] = { env_conf, "HAKMEM_TRIM=maybe", "HAKMEM_NOT_A_SETTING=1", NULL };
	hk_exec_capture(&r, exe, "print", bad, 0);
	CHECK(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "bad settings do not stop the program");
	CHECK(has(&r, "opt.trim_interval_ms=0") && has(&r, "opt.trim=1") &&
		      has(&r, "opt.superslab_lg=21"),
	      "bad values keep the defaults");
	CHECK(count(r.err, "hakmem: ") == 6, "one message per problem (%d)\n%s",
	      count(r.err, "hakmem: "), r.err);
	CHECK(strstr(r.err, ":1: bad value 'soon' for trim_interval_ms") &&
		      strstr(r.err, ":2: unknown setting 'no_such_setting'") &&
		      strstr(r.err, ":3: expected 'name = value'") &&
		      strstr(r.err, ":4: bad value '22' for superslab_lg") &&
		      strstr(r.err, "HAKMEM_TRIM: bad value 'maybe' for trim") &&
		      strstr(r.err, "HAKMEM_NOT_A_SETTING: unknown setting"),
	      "each message names the file and line or the variable, and the value");

	/* The original project's names. */
	const char *const legacy[] = { "HAKMEM_CONF=/nonexistent", "HAKMEM_TINY_IDLE_TRIM_MS=250",
				       "HAKMEM_TINY_TRIM_SS=0", "HAKMEM_TINY_SS_FORCE_LG=20",
				       "HAKMEM_TINY_COUNTERS_DUMP=1", NULL };
	hk_exec_capture(&r, exe, "print", legacy, 0);
	CHECK(has(&r, "opt.trim_interval_ms=250") && has(&r, "opt.trim=0") &&
		      has(&r, "opt.superslab_lg=20") && has(&r, "opt.stats_print=1"),
	      "HAKMEM_TINY_IDLE_TRIM_MS, _TRIM_SS, _SS_FORCE_LG and _COUNTERS_DUMP are aliases");

	/* HAKMEM_STATS=1: a table at exit. */
	const char *const stats[] = { "HAKMEM_CONF=/nonexistent", "HAKMEM_STATS=1", NULL };
	hk_exec_capture(&r, exe, "alloc", stats, 0);
	CHECK(strstr(r.err, "hakmem statistics") && strstr(r.err, "superslabs") &&
		      strstr(r.err, "frees"),
	      "HAKMEM_STATS=1 prints the statistics table at exit");

	/* A file others may write is not trusted. */
	write_conf("superslab_reserve = 9\n", 0666);
	chmod(conf_path, 0666);
	hk_exec_capture(&r, exe, "print", file_only, 0);
	CHECK(has(&r, "opt.superslab_reserve=2") && strstr(r.err, "writable by others"),
	      "a world-writable file is ignored, with a message");

	/* AT_SECURE: a set-uid program run by another user ignores the
	 * environment (HAKMEM_CONF included). Needs root to set it up. */
	struct passwd *nobody = getpwnam("nobody");
	if (geteuid() == 0 && nobody) {
		char copy[300];
		snprintf(copy, sizeof copy, "/tmp/hakmem-config-setuid.%d", (int)getpid());
		char cmd[1400];
		snprintf(cmd, sizeof cmd, "cp '%s' '%s' && chown root '%s' && chmod 4755 '%s'", exe,
			 copy, copy, copy);
		if (system(cmd) == 0) {
			write_conf("superslab_reserve = 9\n", 0644);
			const char *const secure[] = { env_conf, "HAKMEM_TRIM_INTERVAL_MS=77", NULL };
			hk_exec_capture(&r, copy, "print", secure, nobody->pw_uid);
			CHECK(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0 &&
				      has(&r, "opt.trim_interval_ms=0") && has(&r, "opt.superslab_reserve=2"),
			      "AT_SECURE: environment and HAKMEM_CONF ignored (status %d)\n%s", r.status,
			      r.out);
		} else {
			hk_note("could not make a set-uid copy: AT_SECURE not tested");
		}
		unlink(copy);
	} else {
		hk_note("not root: AT_SECURE not tested");
	}

	/* The debug log: present in a --enable-debug-log build, chosen with
	 * HAKMEM_LOG; in a release build the name is unknown. */
	bool debug = false;
	size_t l = sizeof debug;
	hakmem_ctl("build.debug_log", &debug, &l, NULL, 0);
	const char *const logging[] = { "HAKMEM_CONF=/nonexistent", "HAKMEM_LOG=superslab,pool",
					NULL };
	hk_exec_capture(&r, exe, "alloc", logging, 0);
	if (debug)
		CHECK(strstr(r.err, "hakmem[superslab]: created") && strstr(r.err, "hakmem[pool]: slab") &&
			      !strstr(r.err, "hakmem[os]"),
		      "debug build: HAKMEM_LOG=superslab,pool logs those subsystems only");
	else
		CHECK(!strstr(r.err, "hakmem[") && strstr(r.err, "HAKMEM_LOG: unknown setting"),
		      "release build: no debug log, HAKMEM_LOG is an unknown setting");

	/* The crash report runs, then chains to the program's own handler. */
	hk_exec_capture(&r, exe, "crash", none, 0);
	CHECK(strstr(r.err, "hakmem: fatal signal SIGSEGV at address 0x0") &&
		      strstr(r.err, "program handler ran") && WIFEXITED(r.status) &&
		      WEXITSTATUS(r.status) == 42,
	      "crash_report: one line, then the previous SIGSEGV handler (status %d)\n%s", r.status,
	      r.err);

	unlink(conf_path);
	return hk_done();
}
