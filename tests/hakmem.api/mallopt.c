/* mallopt(): the two parameters with a meaning here set their options as
 * hakmem_ctl does (M_TRIM_THRESHOLD: opt.trim, off for a negative
 * threshold; M_CHECK_ACTION: opt.misuse, "abort" when bit 1 is set) and
 * return 1; any other parameter returns 0 and changes nothing. */
#include "../lib/check.h"

#include <malloc.h>

#include "hakmem.h"

static bool trim(void)
{
	bool b = false;
	size_t len = sizeof b;
	CHECK(hakmem_ctl("opt.trim", &b, &len, NULL, 0) == 0, "opt.trim reads");
	return b;
}

static const char *misuse(void)
{
	const char *s = "";
	size_t len = sizeof s;
	CHECK(hakmem_ctl("opt.misuse", &s, &len, NULL, 0) == 0, "opt.misuse reads");
	return s;
}

int main(void)
{
	CHECK(trim(), "trim is on by default");
	CHECK(mallopt(M_TRIM_THRESHOLD, -1) == 1 && !trim(),
	      "a negative M_TRIM_THRESHOLD turns opt.trim off");
	CHECK(mallopt(M_TRIM_THRESHOLD, 0) == 1 && trim(), "M_TRIM_THRESHOLD 0 turns it on");
	CHECK(strcmp(misuse(), "abort") == 0, "misuse is abort by default");
	CHECK(mallopt(M_CHECK_ACTION, 1) == 1 && strcmp(misuse(), "report") == 0,
	      "M_CHECK_ACTION without bit 1: opt.misuse report");
	CHECK(mallopt(M_CHECK_ACTION, 3) == 1 && strcmp(misuse(), "abort") == 0,
	      "M_CHECK_ACTION with bit 1: opt.misuse abort");
	CHECK(mallopt(M_MXFAST, 64) == 0 && trim() && strcmp(misuse(), "abort") == 0,
	      "another parameter returns 0 and changes nothing");
	return hk_done();
}
