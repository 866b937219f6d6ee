#!/bin/sh
# Tests of hakmem-preload (system/hakmem-preload.in) on directory trees made
# here, through --root, with the real library: enable, disable, status;
# refusal when the library is missing, broken or hangs; atomic replacement
# of the file; other entries kept; idempotence; HAKMEM_PRELOAD_* variables;
# enable --try and confirm; SELinux labels (with fake SELinux tools, in a
# user namespace, where one can be made). Run by preload.exp, which turns the PASS:/FAIL: lines
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
says_err() { case $err in *"$1"*) return 0 ;; esac; return 1; }
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
# Whose HAKMEM_* names are whose: HAKMEM_PRELOAD_* are the tool's, and the
# operator's settings do not reach the test programs (which stand for any
# program of the system).
newtree ownvars
file=$t/etc/ld.so.preload
out=$(HAKMEM_PRELOAD_CHECK_TIMEOUT=60 "$tool" --root "$t" enable 2>&1)
st=$?
printf -- '---- HAKMEM_PRELOAD_CHECK_TIMEOUT=60 enable: exit %s\n%s\n' "$st" "$out"
check "HAKMEM_PRELOAD_CHECK_TIMEOUT=60 enable: exit 0 (the library does not complain about it)" \
	eval 'status_is 0 && content_is "$file" "$default$nl"'
out=$(HAKMEM_PRELOAD_CHECK_TIMEOUT=60 "$tool" --root "$t" status 2>&1)
st=$?
check "HAKMEM_PRELOAD_CHECK_TIMEOUT=60 status: exit 0" status_is 0
"$tool" --root "$t" -q disable
out=$(HAKMEM_STATS=1 HAKMEM_MISUSE=bogus "$tool" --root "$t" enable 2>&1)
st=$?
printf -- '---- HAKMEM_STATS=1 HAKMEM_MISUSE=bogus enable: exit %s\n%s\n' "$st" "$out"
check "the operator's HAKMEM_* settings do not reach the test programs (enable: exit 0)" status_is 0
"$tool" --root "$t" -q disable
err=$(HAKMEM_PRELOAD_CHECK_TIMEOUT=60 HAKMEM_PRELOAD_OTHER=1 LD_PRELOAD=$lib sh -c 'echo x | cat >/dev/null' 2>&1)
printf -- '---- the library with HAKMEM_PRELOAD_* set: [%s]\n' "$err"
check "the library says nothing about HAKMEM_PRELOAD_* variables" eval '[ -z "$err" ]'
err=$(HAKMEM_NO_SUCH_SETTING=1 LD_PRELOAD=$lib sh -c 'echo x | cat >/dev/null' 2>&1)
check "the library still reports an unknown HAKMEM_* setting" says_err "HAKMEM_NO_SUCH_SETTING"

# ---------------------------------------------------------------------------
# enable --try: undone by itself unless confirmed.
newtree try
file=$t/etc/ld.so.preload
printf '/opt/a.so\n' >"$file"
run --try 0 enable
check "--try 0: usage error (2)" status_is 2
run --try 2 status
check "--try with status: usage error (2)" status_is 2
run confirm
check "confirm without a trial: exit 1" eval 'status_is 1 && says "nothing to confirm"'
start=$(date +%s)
run --try 2 enable
check "enable --try 2: exit 0, the entry is added" eval 'status_is 0 && content_is "$file" "/opt/a.so$nl$default$nl"'
check "enable --try 2: it says it is a trial" says "confirm"
check "enable --try returns at once (within 5 s)" eval '[ $(( $(date +%s) - start )) -lt 5 ]'
run status
check "status during the trial tells so" eval 'status_is 0 && says "trial"'
# wait_reverted SECONDS: until the entry has gone (or SECONDS have passed).
wait_reverted() {
	n=0
	while [ "$n" -lt "$(($1 * 10))" ] && ! content_is "$file" "/opt/a.so$nl"; do
		sleep 0.1
		n=$((n + 1))
	done
	content_is "$file" "/opt/a.so$nl"
}
check "not confirmed: the entry is taken out by itself within 8 s, the other one kept" wait_reverted 8
check "not confirmed: the trial's state file is gone" no_temp_files ld.so.preload
run confirm
check "confirm after the trial ended: exit 1" status_is 1
run status
check "status after the trial: not enabled (exit 3)" status_is 3

run --try 2 enable
check "enable --try 2 (to confirm): exit 0" status_is 0
run --try 2 enable
check "enable --try while enabled: refused (exit 1)" status_is 1
run confirm
check "confirm: exit 0" eval 'status_is 0 && says "confirmed"'
sleep 3
check "confirmed: still enabled after the trial's time" content_is "$file" "/opt/a.so$nl$default$nl"
check "confirmed: no state file is left" no_temp_files ld.so.preload
run confirm
check "confirm again: nothing to confirm (exit 1)" status_is 1
run disable
run --try 2 enable
run disable
check "disable during a trial: disabled, the trial ended" eval 'status_is 0 && content_is "$file" "/opt/a.so$nl"'
sleep 3
check "after the ended trial nothing changes the file" eval 'content_is "$file" "/opt/a.so$nl" && no_temp_files ld.so.preload'

# ---------------------------------------------------------------------------
# SELinux: the rewritten file gets the label of the old one, and a new file
# on the running system the policy's. The tool looks programs up in a fixed
# PATH that starts with /usr/local/sbin: in a user and mount namespace, a
# directory of fake selinuxenabled, chcon and restorecon (which log their
# arguments) is mounted there; for the running system, a copy of /etc made
# of symbolic links is mounted on /etc.
fake=$work/fake-sbin
mkdir -p "$fake"
printf '#!/bin/sh\nexit 0\n' >"$fake/selinuxenabled"
for p in chcon restorecon; do
	printf '#!/bin/sh\necho "%s $*" >>"%s/selinux.log"\n' "$p" "$work" >"$fake/$p"
done
chmod +x "$fake"/*
# in_ns COMMAND...: run COMMAND with the fakes on /usr/local/sbin (and,
# with HK_LIVE_ETC set, that directory on /etc).
in_ns() {
	unshare --user --map-root-user --mount sh -c '
		mount --bind "$0" /usr/local/sbin || exit 125
		if [ -n "${HK_LIVE_ETC-}" ]; then mount --bind "$HK_LIVE_ETC" /etc || exit 125; fi
		exec "$@"' "$fake" "$@"
}
if ! in_ns true 2>/dev/null; then
	echo "UNSUPPORTED: SELinux labels (no user and mount namespace here: unshare failed)"
else
	newtree selinux
	file=$t/etc/ld.so.preload
	printf '/opt/a.so\n' >"$file"
	: >"$work/selinux.log"
	out=$(in_ns "$tool" --root "$t" enable 2>&1)
	st=$?
	printf -- '---- (SELinux) enable: exit %s\n%s\n' "$st" "$out"
	cat "$work/selinux.log"
	check "SELinux: enable rewrites the file" eval 'status_is 0 && content_is "$file" "/opt/a.so$nl$default$nl"'
	check "SELinux: the new file gets the old one's label before the rename (chcon --reference)" \
		grep -q "^chcon --reference=$file $t/etc/\.ld\.so\.preload\." "$work/selinux.log"
	: >"$work/selinux.log"
	out=$(in_ns "$tool" --root "$t" disable 2>&1)
	st=$?
	check "SELinux: disable (other entries left) relabels too" eval 'status_is 0 &&
		grep -q "^chcon --reference=$file $t/etc/\.ld\.so\.preload\." "$work/selinux.log"'

	# The running system: /etc is a directory of links to the real one.
	live=$work/live-etc
	mkdir -p "$live"
	for f in /etc/* /etc/.[!.]*; do
		[ -e "$f" ] || [ -L "$f" ] || continue
		[ "$f" = /etc/ld.so.preload ] || ln -s "$f" "$live/"
	done
	: >"$work/selinux.log"
	out=$(HK_LIVE_ETC=$live in_ns "$tool" --library "$(readlink -f "$lib")" enable 2>&1)
	st=$?
	printf -- '---- (SELinux, running system) enable: exit %s\n%s\n' "$st" "$out"
	cat "$work/selinux.log"
	check "SELinux, running system: enable makes /etc/ld.so.preload and programs start with it" \
		eval 'status_is 0 && [ -f "$live/ld.so.preload" ]'
	check "SELinux, running system: a new /etc/ld.so.preload gets the policy's label (restorecon)" \
		grep -q "^restorecon /etc/ld.so.preload$" "$work/selinux.log"
	out=$(HK_LIVE_ETC=$live in_ns sh -c 'grep -c libhakmem /proc/self/maps' 2>&1)
	check "SELinux, running system: a program started afterwards has hakmem (from /etc/ld.so.preload)" \
		eval '[ "$out" -gt 0 ] 2>/dev/null'
	: >"$work/selinux.log"
	out=$(HK_LIVE_ETC=$live in_ns "$tool" --library "$(readlink -f "$lib")" disable 2>&1)
	st=$?
	check "SELinux, running system: disable removes the file" eval 'status_is 0 && [ ! -e "$live/ld.so.preload" ]'
fi

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
