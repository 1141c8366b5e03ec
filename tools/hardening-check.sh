#!/bin/sh
# The hardening checks that CI runs after 'make check' (see README.md and
# SECURITY.md, "Fuzzing and sanitizers"):
#
#   asan      the whole test suite again, built with --enable-sanitizers
#             (ASan + UBSan, every UBSan report fatal)
#   fuzz      each libFuzzer target of tests/fuzz for FUZZ_SECONDS seconds
#   valgrind  integration tests with celeryrootd (priv, and net through its
#             exec of celeryroot-net) and the CLI under memcheck
#
# usage: sh tools/hardening-check.sh [asan] [fuzz] [valgrind]   (default: all)
#
# Run as root from the top of the source tree, after './configure && make':
# the valgrind stage uses that build; the others build in fresh copies of the
# tree under build-hardening/ (automake will not build elsewhere from a tree
# that is configured in place).  The copies hold the files git knows about,
# as they are in the work tree, plus new files that are not ignored.
#
# Environment:
#   FUZZ_SECONDS=60        how long each fuzz target runs
#   FUZZ_JOBS=2            fuzz targets run at a time
#   FUZZ_ONLY="proto"      a subset, by name (default: FUZZ_TARGETS in Makefile.am)
#   VALGRIND_TESTS="..."   integration tests for the valgrind stage (default below)
set -eu

TOP=$(pwd)
OUT=$TOP/build-hardening
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_JOBS=${FUZZ_JOBS:-2}
VALGRIND_TESTS=${VALGRIND_TESTS:-"tests/integration/test_pair.py tests/integration/test_routing.py
	tests/integration/test_celery_peer.py tests/integration/test_delivery.py
	tests/integration/test_apt_read.py tests/integration/test_apt_change.py
	tests/priv/test_hostile.py tests/cli/test_audit.py tests/integration/test_windows.py
	tests/integration/test_broker_faults.py tests/integration/test_net_faults.py
	tests/integration/test_dpkg_faults.py tests/integration/test_dpkg_faults_repair.py
	tests/integration/test_cli_faults.py tests/cli/test_job_running.py tests/daemon/test_files.py
	tests/priv/test_cache_idle.py"}

say() { printf '\n=== hardening: %s\n' "$*"; }
die() { printf 'hardening-check: %s\n' "$*" >&2; exit 1; }

if [ ! -f configure.ac ] || [ ! -f tools/hardening-check.sh ]; then
	die "run me from the top of the source tree"
fi
[ "$(id -u)" = 0 ] || die "the test suites need root (real daemon pairs and dpkg sandboxes)"

# A clean copy of the source tree in $1, without build products.
copy_tree() {
	if ! command -v git >/dev/null || ! git rev-parse --git-dir >/dev/null 2>&1; then
		die "copying the tree needs a git checkout"
	fi
	rm -rf "$1"
	mkdir -p "$1"
	git ls-files -z --cached --others --exclude-standard |
		tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -xf - -C "$1"
}

# Prints the failed tests' logs, then fails.
check_failed() {
	[ -f "$1/test-suite.log" ] && cat "$1/test-suite.log"
	die "$2"
}

stage_asan() {
	say "test suite under ASan + UBSan (build-hardening/asan)"
	copy_tree "$OUT/asan"
	cd "$OUT/asan"
	autoreconf -fi >/dev/null 2>&1 || die "autoreconf failed in $OUT/asan"
	./configure -q --enable-sanitizers >/dev/null
	make -j2 >/dev/null
	# -fno-sanitize-recover makes every UBSan report fatal; halt_on_error
	# says so again for anything built without it.  LeakSanitizer stays on
	# for the CLI and the unit tests; celeryrootd turns it off for itself
	# (its sandboxes forbid the ptrace it needs: see src/daemon/main.c), and
	# its leaks are valgrind's to find.  A report in a daemon's log fails
	# the test (tests/lib/harness.py).
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		make -j2 check || check_failed "$OUT/asan" "the test suite failed under ASan/UBSan"
	cd "$TOP"
}

# Runs one target: $1 build dir, $2 name.  Leaves $1/fuzz-out/$2/{log,corpus/,crash-*}.
fuzz_one() {
	out=$1/fuzz-out/$2
	rm -rf "$out"
	mkdir -p "$out/corpus"
	dict=
	[ -f "$TOP/tests/fuzz/$2.dict" ] && dict=-dict=$TOP/tests/fuzz/$2.dict
	# shellcheck disable=SC2086
	"$1/tests/fuzz/fuzz_$2" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$out/" $dict \
		"$out/corpus" "$TOP/tests/fuzz/corpus/$2" >"$out/log" 2>&1
}

stage_fuzz() {
	say "libFuzzer targets, ${FUZZ_SECONDS}s each, $FUZZ_JOBS at a time (build-hardening/fuzz)"
	command -v clang >/dev/null || die "fuzzing needs clang (sh tools/deps.sh)"
	copy_tree "$OUT/fuzz"
	(cd "$OUT/fuzz" && autoreconf -fi >/dev/null 2>&1 && ./configure -q --enable-fuzz CC=clang >/dev/null &&
		make -j2 fuzz >/dev/null) || die "building the fuzz targets failed"
	names=${FUZZ_ONLY:-$(make -s -C "$OUT/fuzz" print-fuzz-targets | sed 's|tests/fuzz/fuzz_||g')}
	n=0 failed=
	for name in $names; do
		fuzz_one "$OUT/fuzz" "$name" &
		n=$((n + 1))
		if [ "$n" -ge "$FUZZ_JOBS" ]; then
			wait
			n=0
		fi
	done
	wait
	printf '%-10s %12s %10s %8s  %s\n' TARGET EXECUTIONS "EXEC/S" CORPUS RESULT
	for name in $names; do
		out=$OUT/fuzz/fuzz-out/$name
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/log" | tail -n 1)
		rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out/log" | tail -n 1)
		corpus=$(find "$out/corpus" -type f | wc -l)
		found=$(find "$out" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
			-o -name 'oom-*' -o -name 'slow-unit-*' \) | wc -l)
		if [ "$found" -eq 0 ] && grep -q '^Done [0-9]* runs' "$out/log"; then
			result=ok
		else
			result="FAILED: see $out/log"
			failed="$failed $name"
		fi
		printf '%-10s %12s %10s %8s  %s\n' "$name" "${runs:-?}" "${rate:-?}" "$corpus" "$result"
	done
	for name in $failed; do
		printf '\n--- fuzz_%s ---\n' "$name"
		grep -v -e '^#[0-9]' -e '^INFO:' "$OUT/fuzz/fuzz-out/$name/log" | tail -n 60
	done
	[ -z "$failed" ] || die "fuzzing found a problem in:$failed (reproduce: build-hardening/fuzz/tests/fuzz/fuzz_NAME FILE)"
}

stage_valgrind() {
	say "integration tests with the daemons and the CLI under valgrind memcheck"
	command -v valgrind >/dev/null || die "the valgrind stage needs valgrind (sh tools/deps.sh)"
	[ -f Makefile ] || die "configure the tree first (./configure)"
	# shellcheck disable=SC2086,SC2116  # one line of names, as make wants them
	CELERYROOT_VALGRIND=1 make -j2 check TESTS="$(echo $VALGRIND_TESTS)" ||
		check_failed "$TOP" "the integration tests failed under valgrind"
}

stages=${*:-asan fuzz valgrind}
for s in $stages; do
	case $s in
	asan | fuzz | valgrind) ;;
	*) die "unknown stage '$s' (asan, fuzz, valgrind)" ;;
	esac
done
start=$(date +%s)
for s in $stages; do
	t0=$(date +%s)
	"stage_$s"
	say "$s passed in $(($(date +%s) - t0)) s"
done
say "all passed ($stages) in $(($(date +%s) - start)) s"
echo "hardening: $(echo "$stages" | wc -w) passed, 0 failed"
