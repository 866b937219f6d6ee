#!/bin/sh
# Tests of hakmem-preload (system/hakmem-preload.in) on directory trees made
# here, through --root: enable, disable, status; refusal when the library is
# missing, broken or hangs; atomic replacement of the file; other entries
# kept; idempotence. Run by preload.exp, which turns the PASS:/FAIL: lines
# into DejaGnu results (anything else goes to hakmem.log).
#
# Usage: hakmem-preload.sh TOOL LIBRARY LINE-FILE
#   TOOL       the built hakmem-preload
#   LIBRARY    the built libhakmem.so.N
#   LINE-FILE  the built ld.so.preload.N (the line enable must add)
# shellcheck disable=SC2034,SC3044 # variables read in eval; 'enable' is an argument
set -u

if [ $# -ne 3 ]; then
	echo "usage: $0 TOOL LIBRARY LINE-FILE" >&2
	exit 2
fi
tool=$1 lib=$2 linefile=$3

for f in "$tool" "$lib" "$linefile"; do
	if [ ! -e "$f" ]; then
		echo "FAIL: setup: $f does not exist (build system/ first)"
		exit 1
	fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/hakmem-preload-test.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
trap 'exit 1' HUP INT TERM

# The path the tool preloads by default, from the line file.
default=$(cat "$linefile")
nl='
'

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; }
# check DESCRIPTION COMMAND...: PASS or FAIL as the command succeeds.
check() {
	d=$1
	shift
	if "$@"; then pass "$d"; else fail "$d"; fi
}

# newtree NAME [nolib]: make $work/NAME with etc/ and (unless nolib) the
# library at the default path; sets $t.
newtree() {
	t=$work/$1
	mkdir -p "$t/etc" "$t${default%/*}"
	[ "${2-}" = nolib ] || cp -L "$lib" "$t$default"
}

# run ARGS...: run the tool on $t; sets $out (stdout and stderr) and $st.
run() {
	out=$("$tool" --root "$t" "$@" 2>&1)
	st=$?
	printf -- '---- hakmem-preload --root %s %s: exit %s\n%s\n' "$t" "$*" "$st" "$out"
}

status_is() { [ "$st" -eq "$1" ]; }
says() { case $out in *"$1"*) return 0 ;; esac; return 1; }
# content_is FILE TEXT: FILE holds exactly TEXT.
content_is() {
	[ -f "$1" ] || return 1
	c=$(cat "$1" && echo x) && [ "${c%x}" = "$2" ]
}
no_temp_files() { [ "$(ls -A "$t/etc")" = "${1-}" ]; }
inode() { stat -c %i "$1"; }
mode() { stat -c %a "$1"; }

# ---------------------------------------------------------------------------
# Usage.
newtree usage
run
check "no command: usage error (2)" status_is 2
run frobnicate
check "unknown command: usage error (2)" status_is 2
run --bogus status
check "unknown option: usage error (2)" status_is 2
run --library relative/libhakmem.so.1 status
check "relative --library: usage error (2)" status_is 2
out=$("$tool" --root "$work/does-not-exist" status 2>&1)
st=$?
check "--root that does not exist: error (1)" status_is 1
run --help
check "--help: exit 0 and the commands" eval 'status_is 0 && says enable && says disable && says status'
check "--help names the default library ($default)" says "$default"
run --version
check "--version: exit 0" status_is 0

# ---------------------------------------------------------------------------
# Enable and disable on an empty system.
newtree plain
file=$t/etc/ld.so.preload
run status
check "status when not enabled: exit 3" eval 'status_is 3 && says "not enabled"'
run enable
check "enable: exit 0" status_is 0
check "enable: the file holds exactly the library's line" content_is "$file" "$default$nl"
check "enable: the line is that of the installed line file" cmp -s "$file" "$linefile"
check "enable: a new file is mode 644" eval '[ "$(mode "$file")" = 644 ]'
check "enable: no temporary file left in etc/" no_temp_files ld.so.preload
run status
check "status when enabled: exit 0" eval 'status_is 0 && says "enabled"'
ino=$(inode "$file")
run enable
check "enable again: exit 0, already enabled" eval 'status_is 0 && says "already enabled"'
check "enable again: the file is not rewritten" eval '[ "$(inode "$file")" = "$ino" ] && content_is "$file" "$default$nl"'
run disable
check "disable: exit 0" status_is 0
check "disable: the file, which held only hakmem, is removed" eval '[ ! -e "$file" ]'
check "disable: etc/ is as before" no_temp_files
run disable
check "disable again: exit 0, nothing to do" eval 'status_is 0 && says "not enabled" && [ ! -e "$file" ]'
run status
check "status after disable: exit 3" status_is 3

# ---------------------------------------------------------------------------
# Other entries are kept.
newtree others
file=$t/etc/ld.so.preload
orig="  /opt/a.so$nl/opt/b.so:/opt/c.so$nl$nl/opt/d.so	/opt/e.so$nl"
printf '%s' "$orig" >"$file"
chmod 640 "$file"
ino=$(inode "$file")
run enable
check "enable with other entries: exit 0" status_is 0
check "enable with other entries: they are kept, the line is appended" content_is "$file" "$orig$default$nl"
check "enable: the file was replaced by a rename (new inode)" eval '[ "$(inode "$file")" != "$ino" ]'
check "enable: the file keeps its mode (640)" eval '[ "$(mode "$file")" = 640 ]'
check "enable: no temporary file left in etc/" no_temp_files ld.so.preload
run disable
check "disable with other entries: exit 0" status_is 0
check "disable: the file is back to what it was, byte for byte" content_is "$file" "$orig"
check "disable: the file keeps its mode (640)" eval '[ "$(mode "$file")" = 640 ]'

newtree nonewline
file=$t/etc/ld.so.preload
printf '/opt/a.so' >"$file"
run enable
check "enable after a last line without newline: a line of its own" content_is "$file" "/opt/a.so$nl$default$nl"
run disable
check "disable: the other entry is kept" content_is "$file" "/opt/a.so$nl"

newtree oneline
file=$t/etc/ld.so.preload
printf '%s\n' "/opt/a.so:$default /opt/b.so" "/opt/c.so" >"$file"
run status
check "status finds an entry in the middle of a line" eval 'status_is 0 && says "enabled"'
run disable
check "disable: an entry in the middle of a line goes, its neighbours stay" \
	content_is "$file" "/opt/a.so /opt/b.so$nl/opt/c.so$nl"

# ---------------------------------------------------------------------------
# Another hakmem library already listed.
newtree another
file=$t/etc/ld.so.preload
# A path that is never the tool's own default (which depends on --prefix).
other="/opt/hakmem-elsewhere/lib/libhakmem.so.1$nl/opt/a.so$nl"
printf '%s' "$other" >"$file"
run enable
check "enable refuses when another hakmem library is listed" eval 'status_is 1 && says "another hakmem"'
check "the refused enable left the file alone" content_is "$file" "$other"
run status
check "status reports the other hakmem library" says "/opt/hakmem-elsewhere/lib/libhakmem.so.1"
run disable
check "disable removes every hakmem entry" content_is "$file" "/opt/a.so$nl"

# ---------------------------------------------------------------------------
# Refusals: the library is missing, is not a library, crashes, hangs.
newtree missing nolib
file=$t/etc/ld.so.preload
run enable
check "enable refuses a missing library (exit 1)" eval 'status_is 1 && says "does not exist"'
check "the refused enable created no file" no_temp_files

# refuse NAME CONTENTS-SETUP DESCRIPTION: the library at the default path
# is made by the function CONTENTS-SETUP; enable must refuse and leave an
# existing file untouched (same inode and contents).
refuse() {
	newtree "$1" nolib
	file=$t/etc/ld.so.preload
	printf '/opt/a.so\n' >"$file"
	ino=$(inode "$file")
	if ! "$2" "$t$default"; then
		echo "(skipped: $3: could not make the library)"
		return 0
	fi
	run enable
	check "enable refuses $3 (exit 1)" eval 'status_is 1 && says "not enabling"'
	check "refused ($3): the file is untouched" eval \
		'content_is "$file" "/opt/a.so$nl" && [ "$(inode "$file")" = "$ino" ]'
	check "refused ($3): no temporary file left" no_temp_files ld.so.preload
}

make_text() { echo "not a library" >"$1"; }
make_truncated() { head -c 8192 "$lib" >"$1"; }
make_executable() { cp /bin/true "$1"; }

cc=
for c in "${CC:-}" cc gcc; do
	if [ -n "$c" ] && command -v "$c" >/dev/null 2>&1; then
		cc=$c
		break
	fi
done
# make_so FILE C-SOURCE: compile a shared object.
make_so() {
	[ -n "$cc" ] || return 1
	printf '%s\n' "$2" >"$work/so.c" &&
		$cc -shared -fPIC -o "$1" "$work/so.c" >/dev/null 2>&1
}
make_aborting() {
	make_so "$1" '#include <stdlib.h>
__attribute__((constructor)) static void die(void) { abort(); }'
}
make_hanging() {
	make_so "$1" '#include <unistd.h>
__attribute__((constructor)) static void hang(void) { sleep(60); }'
}
make_broken_malloc() {
	make_so "$1" '#include <stddef.h>
void *malloc(size_t n) { (void)n; return NULL; }
void *calloc(size_t n, size_t m) { (void)n; (void)m; return NULL; }
void *realloc(void *p, size_t n) { (void)p; (void)n; return NULL; }'
}

refuse text make_text "a text file"
refuse truncated make_truncated "a truncated copy of the library"
refuse executable make_executable "an executable"
refuse aborting make_aborting "a library whose constructor aborts"
refuse broken make_broken_malloc "a library whose malloc always fails"
HAKMEM_PRELOAD_CHECK_TIMEOUT=2
export HAKMEM_PRELOAD_CHECK_TIMEOUT
start=$(date +%s)
refuse hanging make_hanging "a library that hangs (2 s timeout)"
unset HAKMEM_PRELOAD_CHECK_TIMEOUT
check "the hanging library was given up within 15 s" eval '[ $(( $(date +%s) - start )) -lt 15 ]'

# ---------------------------------------------------------------------------
# A symbolic link is not edited.
newtree symlink
file=$t/etc/ld.so.preload
printf '/opt/a.so\n' >"$t/etc/real-preload"
ln -s real-preload "$file"
run enable
check "enable refuses a symbolic link ld.so.preload" eval 'status_is 1 && [ -L "$file" ] && content_is "$t/etc/real-preload" "/opt/a.so$nl"'
run disable
check "disable refuses a symbolic link ld.so.preload" eval 'status_is 1 && [ -L "$file" ]'

# ---------------------------------------------------------------------------
# The library goes away while enabled: status warns, disable still works.
newtree gone
file=$t/etc/ld.so.preload
run enable
rm -f "$t$default"
run status
check "status when enabled but the library is gone: exit 1 and a warning" \
	eval 'status_is 1 && says "WARNING"'
run disable
check "disable works without the library" eval 'status_is 0 && [ ! -e "$file" ]'

# ---------------------------------------------------------------------------
# Atomicity: while enable and disable run in turn, a reader never sees
# anything but the old or the new contents (nor a missing file).
newtree atomic
file=$t/etc/ld.so.preload
a="/opt/a.so$nl"
b="/opt/a.so$nl$default$nl"
printf '%s' "$a" >"$file"
: >"$work/reads"
(
	n=0
	while [ ! -e "$work/stop" ]; do
		c=$(cat "$file" 2>&1 && echo x)
		c=${c%x}
		if [ "$c" != "$a" ] && [ "$c" != "$b" ]; then
			printf 'bad read: [%s]\n' "$c" >>"$work/bad"
		fi
		n=$((n + 1))
		echo "$n" >"$work/reads"
	done
) &
reader=$!
cycles=0 errors=0
while [ "$cycles" -lt 10 ]; do
	"$tool" --root "$t" -q enable >/dev/null 2>&1 || errors=$((errors + 1))
	"$tool" --root "$t" -q disable >/dev/null 2>&1 || errors=$((errors + 1))
	cycles=$((cycles + 1))
done
: >"$work/stop"
wait "$reader"
echo "atomicity: $cycles enable/disable cycles, $(cat "$work/reads") reads, $errors errors"
[ ! -e "$work/bad" ] || head -5 "$work/bad"
check "10 enable/disable cycles succeed" eval '[ "$errors" -eq 0 ]'
check "a concurrent reader saw only whole files" eval '[ ! -e "$work/bad" ] && [ "$(cat "$work/reads")" -gt 0 ]'
check "after the cycles the file is as it was" content_is "$file" "$a"
check "after the cycles no temporary file is left" no_temp_files ld.so.preload

exit 0
