/* Address-space exhaustion and recovery.
 *
 * A child process (stderr to a pipe) sets RLIMIT_AS to its current virtual
 * size + 256 MiB, then three times exhausts memory: small blocks (16 B..4 KiB,
 * kept in a linked list threaded through the blocks), large blocks (1 MiB),
 * then small blocks again.  Each time: the failing call returns NULL with
 * errno ENOMEM, a sizeable part of the budget was usable, nothing crashed;
 * after freeing everything, allocation works again (recovery).  At the
 * large-block exhaustion point calloc/realloc/posix_memalign/aligned_alloc
 * of the same size also fail with ENOMEM.  The parent checks the child
 * exited 0 and that its stderr holds exactly one line mentioning
 * vm.max_map_count although memory ran out three times. */
/* hakmem-test: no-valgrind */
/* hakmem-test: timeout 180 */
#include "../lib/check.h"

#define MiB ((size_t)1 << 20)
#define BUDGET (256 * MiB)

struct node {
	struct node *next;	/* first: see hk_free_chain() */
	size_t n;
};

/* Allocate until NULL; returns bytes obtained, sets *err to the errno of
 * the failing call and *count to the number of blocks. */
static size_t exhaust(struct node **head, bool large, int *err, long *count,
		      hk_rng *r)
{
	size_t total = 0;
	*count = 0;
	*err = 0;
	for (;;) {
		size_t n = large ? MiB : hk_rng_logsize(r, 16, 4096);
		errno = 0;
		struct node *b = malloc(n);
		if (!b) {
			*err = errno;
			break;
		}
		b->next = *head;
		b->n = n;
		((volatile char *)b)[n - 1] = 1;
		*head = b;
		total += n;
		(*count)++;
		if (total > 64 * BUDGET) {	/* the limit is not working */
			*err = -1;
			break;
		}
	}
	return total;
}

static bool recovery(void)
{
	void *v[1000];
	int nulls = 0;
	for (int i = 0; i < 1000; i++) {
		v[i] = malloc(16 + (size_t)(i * 37 % 4000));
		nulls += v[i] == NULL;
	}
	void *big = malloc(4 * MiB);
	nulls += big == NULL;
	if (big)
		memset(big, 1, 4 * MiB);
	free(big);
	for (int i = 0; i < 1000; i++)
		free(v[i]);
	return nulls == 0;
}

static int child(void)
{
	hk_rng r;
	struct node *head = NULL;
	int err;
	long count;

	/* Warm the allocator up, then limit the address space. */
	free(malloc(100));
	free(malloc(MiB));
	long long vs = hk_vsize_bytes();
	struct rlimit rl = { (rlim_t)vs + BUDGET, (rlim_t)vs + BUDGET };
	if (!CHECK(vs > 0 && setrlimit(RLIMIT_AS, &rl) == 0,
		   "setrlimit(RLIMIT_AS, vsize %lld + 256 MiB)", vs))
		return hk_done();
	hk_rng_seed(&r, 99);

	static const struct {
		bool large;
		const char *name;
	} phases[] = {
		{ false, "small" }, { true, "large" }, { false, "small again" },
	};
	for (int ph = 0; ph < 3; ph++) {
		size_t got = exhaust(&head, phases[ph].large, &err, &count, &r);
		hk_note("%s phase: %ld blocks, %zu MiB before NULL (errno %d)",
			phases[ph].name, count, got / MiB, err);
		CHECK(err == ENOMEM,
		      "%s blocks: malloc eventually returns NULL with ENOMEM "
		      "(errno %d)", phases[ph].name, err);
		CHECK(got >= 64 * MiB,
		      "%s blocks: at least 64 of the 256 MiB budget usable "
		      "(%zu MiB)", phases[ph].name, got / MiB);
		if (phases[ph].large) {
			void *p;
			errno = 0;
			p = hk_launder(calloc(1, MiB));
			CHECK(!p && errno == ENOMEM,
			      "exhausted: calloc(1, 1 MiB) NULL/ENOMEM");
			free(p);
			errno = 0;
			p = hk_launder(realloc(NULL, MiB));
			CHECK(!p && errno == ENOMEM,
			      "exhausted: realloc(NULL, 1 MiB) NULL/ENOMEM");
			free(p);
			errno = 0;
			p = hk_launder(aligned_alloc(4096, MiB));
			CHECK(!p && errno == ENOMEM,
			      "exhausted: aligned_alloc(4096, 1 MiB) "
			      "NULL/ENOMEM");
			free(p);
			p = NULL;
			int rc = posix_memalign(&p, 65536, MiB);
			CHECK(rc == ENOMEM,
			      "exhausted: posix_memalign(64K, 1 MiB) returns "
			      "ENOMEM (%d)", rc);
			if (rc == 0)
				free(p);
			/* a live block can't grow either, and survives */
			if (head) {
				struct node *h = head;
				errno = 0;
				void *q = hk_launder(
					realloc(hk_launder(h), 8 * MiB));
				CHECK(!q && errno == ENOMEM && head->n == MiB,
				      "exhausted: realloc(1 MiB block, 8 MiB) "
				      "fails, block intact");
				if (q)
					head = q;
			}
		}
		hk_free_chain(head);
		head = NULL;
		CHECK(recovery(), "after freeing the %s blocks, small and 4 MiB "
				  "allocations succeed again", phases[ph].name);
	}
	return hk_done();
}

int main(void)
{
	int pfd[2];
	char err[16384];
	size_t got = 0;
	int status = 0;

	if (pipe(pfd) != 0) {
		FAILED("pipe");
		return hk_done();
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		FAILED("fork");
		return hk_done();
	}
	if (pid == 0) {
		close(pfd[0]);
		dup2(pfd[1], STDERR_FILENO);
		close(pfd[1]);
		_exit(child());
	}
	close(pfd[1]);
	double deadline = hk_now() + 150;
	bool timed_out = false;
	for (;;) {
		struct pollfd p = { pfd[0], POLLIN, 0 };
		int ms = (int)((deadline - hk_now()) * 1000);
		if (ms <= 0) {
			timed_out = true;
			kill(pid, SIGKILL);
			break;
		}
		int pr = poll(&p, 1, ms);
		if (pr <= 0)
			continue;
		ssize_t n = read(pfd[0], err + got, sizeof err - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == sizeof err - 1) {
			char sink[512];
			while (read(pfd[0], sink, sizeof sink) > 0)
				;
			break;
		}
	}
	err[got] = '\0';
	close(pfd[0]);
	waitpid(pid, &status, 0);

	/* The child's own checks are printed on the shared stdout; here we
	 * check how it ended and what it wrote to stderr. */
	CHECK(!timed_out, "exhaustion child finished in time");
	if (WIFSIGNALED(status))
		hk_note("child killed by signal %d (%s)", WTERMSIG(status),
			strsignal(WTERMSIG(status)));
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "exhaustion child exited 0 (no crash, all its checks passed)");

	int mentions = 0, lines = 0;
	for (const char *line = err; *line;) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		char buf[1024];
		if (len >= sizeof buf)
			len = sizeof buf - 1;
		memcpy(buf, line, len);
		buf[len] = '\0';
		if (len) {
			lines++;
			if (strstr(buf, "vm.max_map_count")) {
				mentions++;
				hk_note("child stderr: %s", buf);
			}
		}
		if (!end)
			break;
		line = end + 1;
	}
	if (mentions != 1)
		hk_note("child stderr (%d lines): \"%.600s\"", lines, err);
	CHECK(mentions == 1,
	      "stderr mentions vm.max_map_count exactly once although memory "
	      "ran out 3 times (%d times)", mentions);
	return hk_done();
}
