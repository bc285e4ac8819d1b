#!/usr/bin/env bash
# Builds the libFuzzer targets of Fuzz/ and runs each for a bounded time on a copy of its corpus.
#
#   bash Fuzz/run.sh                  # from anywhere; scripts/test.sh runs it from the repository root
#   FUZZ_SECONDS=600 bash Fuzz/run.sh # longer runs (default 60 s per target)
#   FUZZ_TARGETS="FuzzURL" bash Fuzz/run.sh
#   FUZZ_MERGE=1 bash Fuzz/run.sh     # afterwards, add inputs with new coverage to Corpus/ (to commit)
#
# Targets run side by side (FUZZ_JOBS at once, default 4 = all), so the fuzzing part takes about
# FUZZ_SECONDS of wall time; FUZZ_JOBS=1 runs them one after another. Needs no stdin and no network once
# the Swift packages resolve from the local mirrors. Exits non-zero if a target crashes, leaks, times out
# or violates an invariant; the input is then kept in Fuzz/artifacts/ and printed as hex.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

FUZZ_SECONDS="${FUZZ_SECONDS:-60}"
FUZZ_TARGETS="${FUZZ_TARGETS:-FuzzFrames FuzzHandshake FuzzURL FuzzUTF8 FuzzHixie FuzzMSRP FuzzRTMP FuzzCredentials}"
FUZZ_JOBS="${FUZZ_JOBS:-8}"
scratch=".build-fuzz"

# Swift's own crash backtracer and ASan's stack handling do not mix; libFuzzer prints the stack itself.
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}handle_abort=1:symbolize=1"

max_len() {
    case "$1" in
        FuzzFrames) echo 4096 ;;    # several frames, 126/127 lengths, split reads
        FuzzHandshake) echo 4096 ;; # a head well past the small-limit variants (40 B, 256 B, 1 KiB)
        FuzzURL) echo 512 ;;
        FuzzCredentials) echo 12288 ;; # past the 8 KiB token limit
        FuzzUTF8) echo 4096 ;;      # text across many 16/32/64-byte blocks, in pieces of 1-300 bytes
        FuzzHixie) echo 2048 ;;     # a handshake head plus key3, or frames around the 512-byte limit
        FuzzRTMP) echo 4096 ;;      # a few chunked messages around the 128-byte chunk size, or AMF bodies
        FuzzMSRP) echo 4096 ;;      # a few chunks, bodies around the 64-byte small limit and the 300-byte re-chunking
        *) echo 4096 ;;
    esac
}

start=$(date +%s)
echo "fuzz: building ($scratch)"
mkdir -p "$scratch"
if ! swift build -c release --scratch-path "$scratch" </dev/null >"$scratch/fuzz-build.log" 2>&1; then
    cat "$scratch/fuzz-build.log"
    echo "fuzz: build failed" >&2
    exit 1
fi
grep -E "^Build" "$scratch/fuzz-build.log" | tail -1 || true
bin="$(swift build -c release --scratch-path "$scratch" --show-bin-path </dev/null)"
built=$(date +%s)
echo "fuzz: build took $((built - start)) s"

work="$(mktemp -d "${TMPDIR:-/tmp}/wsgate-fuzz.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p artifacts

run_target() {
    local target="$1" corpus="$work/$1"
    mkdir -p "$corpus"
    cp Corpus/"$target"/* "$corpus"/ 2>/dev/null || true
    # Merged inputs and seeds are run first; then mutations for FUZZ_SECONDS.
    "$bin/$target" "$corpus" \
        -max_total_time="$FUZZ_SECONDS" -max_len="$(max_len "$target")" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="artifacts/$target-" -print_final_stats=1 -detect_leaks=1 \
        </dev/null >"$work/$target.log" 2>&1
}

# In batches of FUZZ_JOBS targets (by default all four at once, about FUZZ_SECONDS of wall time).
declare -A pids=()
batch=()
for target in $FUZZ_TARGETS; do
    run_target "$target" & pids[$target]=$!
    batch+=("${pids[$target]}")
    if (( ${#batch[@]} >= FUZZ_JOBS )); then wait "${batch[@]}" || true; batch=(); fi
done

failed=0
for target in $FUZZ_TARGETS; do
    status=0
    wait "${pids[$target]}" || status=$?
    log="$work/$target.log"
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    corpus=$(ls "$work/$target" | wc -l)
    if (( status == 0 )); then
        printf 'fuzz: %-14s ok      %10s executions in %s s (%s/s), corpus %s inputs\n' \
            "$target" "${execs:-?}" "$FUZZ_SECONDS" "${rate:-?}" "$corpus"
    else
        failed=1
        printf 'fuzz: %-14s FAILED  (exit %s) after %s executions\n' "$target" "$status" "${execs:-?}"
        # The reason, the stack and the input (libFuzzer names it in "Test unit written to …").
        grep -E "INVARIANT VIOLATED|ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer)|Fatal error|runtime failure|^ +#[0-9]+ |^SUMMARY|Test unit written" "$log" \
            | grep -vE "in (fuzzer::|__sanitizer|__asan|abort|raise|__pthread_kill)|libc\.so" | head -40 | sed 's/^/    /'
        artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
        if [[ -n "$artifact" && -f "$artifact" ]]; then
            echo "    input (hex, $(wc -c <"$artifact") bytes): $(od -An -v -tx1 "$artifact" | tr -d ' \n' | cut -c1-2000)"
            echo "    reproduce: SWIFT_BACKTRACE=enable=no $bin/$target Fuzz/$artifact"
        fi
    fi
done

if [[ "${FUZZ_MERGE:-0}" == 1 ]]; then
    # A greedy set cover keeps the committed corpus small; if it still has more than 450 inputs, merge again
    # counting edges only (not hit-count buckets).
    for target in $FUZZ_TARGETS; do
        before=$(ls Corpus/"$target" | wc -l)
        for counters in 1 0; do
            merged="$work/$target.merged"
            rm -rf "$merged"; mkdir -p "$merged"; cp Corpus/"$target"/* "$merged"/
            "$bin/$target" -set_cover_merge=1 -use_counters="$counters" -max_len="$(max_len "$target")" \
                "$merged" "$work/$target" </dev/null >"$work/$target.merge.log" 2>&1 \
                || { echo "fuzz: merge of $target failed"; failed=1; continue 2; }
            (( $(ls "$merged" | wc -l) <= 450 )) && break
        done
        cp -n "$merged"/* Corpus/"$target"/
        echo "fuzz: merged $target: $before -> $(ls Corpus/"$target" | wc -l) inputs"
    done
fi

echo "fuzz: total $(( $(date +%s) - start )) s (build $((built - start)) s)"
exit "$failed"
