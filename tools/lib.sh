# tools/lib.sh - shell functions shared by the scripts in tools/, which
# source it: . "$top/tools/lib.sh" (POSIX sh).

# hk_workdir NAME: a new directory $work under $TMPDIR (hakmem-NAME.XXXXXX),
# removed when the script ends, or kept and named when HK_KEEP is set (to
# look at what a failed run left).
hk_workdir() {
	work=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-$1.XXXXXX")
	if [ -z "${HK_KEEP:-}" ]; then
		trap 'rm -rf "$work"' EXIT INT TERM
	else
		echo "${0##*/}: keeping $work"
	fi
}
