# shellcheck shell=bash
# Test counting for .ci/run, apart so that tests/repo_test.ts runs it on saved
# logs. Source it.
#
#   count_deno LOG   prints "passed failed ignored", summed over every summary
#                    line `ok | N passed ... | N failed ... | N ignored ...` of
#                    a `deno test` log (no ignored part counts 0).
#   count_node LOG   prints "passed failed skipped" of a `node --test` TAP log
#                    (its last `# pass`, `# fail`, and `# skipped` + `# todo`
#                    + `# cancelled`).
#   ci_tally DENO_LOG DENO_STATUS [NODE_LOG NODE_STATUS]
#                    prints a breakdown line, `tests by runner: deno: ...;
#                    node (npm package): ...`, then the closing line
#                    `tests: N passed, N failed`, which sums both runs (most
#                    test files run on both: once in Deno against the
#                    sources, once in Node against the npm package). An
#                    ignored, skipped, todo or cancelled test counts as
#                    failed (in CI every test must run: docs/testing.md), as
#                    does a runner that exits non-zero with no failure
#                    counted (it died before its summary, or the npm build
#                    failed). Returns 1 when anything failed.

count_deno() {
  local p=0 f=0 i=0 line n
  while IFS= read -r line; do
    n=$(sed -nE 's/.*\| ([0-9]+) passed.*/\1/p' <<<"$line")
    p=$((p + ${n:-0}))
    n=$(sed -nE 's/.*\| ([0-9]+) failed.*/\1/p' <<<"$line")
    f=$((f + ${n:-0}))
    n=$(sed -nE 's/.*\| ([0-9]+) ignored.*/\1/p' <<<"$line")
    i=$((i + ${n:-0}))
  done < <(grep -E '^(ok|FAILED) \| [0-9]+ passed' "$1")
  echo "$p $f $i"
}

_tap_count() { # key, log: the last "# key N" of a TAP log, or 0
  local v
  v=$(grep -E "^# $1 [0-9]+\$" "$2" | tail -1 | awk '{print $3}')
  echo "${v:-0}"
}

count_node() {
  local k s=0
  for k in skipped todo cancelled; do s=$((s + $(_tap_count "$k" "$1"))); done
  echo "$(_tap_count pass "$1") $(_tap_count fail "$1") $s"
}

ci_tally() {
  local d_pass d_fail d_ign n_pass n_fail n_skip passed failed breakdown
  read -r d_pass d_fail d_ign <<<"$(count_deno "$1")"
  passed=$d_pass
  failed=$((d_fail + d_ign))
  if [ "$2" -ne 0 ] && [ "$d_fail" -eq 0 ]; then
    failed=$((failed + 1))
    echo "FAILED: deno test exited with status $2 and counted no failure (it died before its summary?)"
  fi
  breakdown="deno: $d_pass passed, $d_fail failed, $d_ign ignored"
  if [ $# -ge 4 ]; then
    read -r n_pass n_fail n_skip <<<"$(count_node "$3")"
    passed=$((passed + n_pass))
    failed=$((failed + n_fail + n_skip))
    if [ "$4" -ne 0 ] && [ "$n_fail" -eq 0 ]; then
      failed=$((failed + 1))
      echo "FAILED: the Node run exited with status $4 and counted no failure (npm build or install?)"
    fi
    breakdown+="; node (npm package): $n_pass passed, $n_fail failed, $n_skip skipped"
  fi
  echo "tests by runner: $breakdown (ignored and skipped count as failed)"
  echo "tests: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
