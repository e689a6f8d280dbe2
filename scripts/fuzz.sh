#!/usr/bin/env bash
# Fuzz what parses untrusted input (issue 5) with cargo fuzz (libFuzzer), each target for a
# bounded time. Not part of CI; `--smoke` is a short run suitable for it.
#
#   scripts/fuzz.sh                 # every target, 60 s each
#   scripts/fuzz.sh --smoke         # every target, 10 s each
#   FUZZ_SECONDS=300 scripts/fuzz.sh cursor_open sim_filter
#
# Works on stable Rust: cargo fuzz needs nightly-only flags, which RUSTC_BOOTSTRAP=1 allows, and
# the targets are built without a sanitizer (the code under test forbids `unsafe`, so ASan would
# add little but build time); debug assertions (overflow checks) are on. cargo-fuzz is installed
# with `cargo install` when missing. Corpora and crash artifacts stay under fuzz/ (git-ignored);
# a crash makes the script exit non-zero and names the reproducer to run with
# `cargo fuzz run TARGET fuzz/artifacts/TARGET/crash-...`.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root/fuzz"

seconds="${FUZZ_SECONDS:-60}"
targets=()
while (($#)); do
  case "$1" in
    --smoke) seconds="${FUZZ_SECONDS:-10}" ;;
    --time) seconds="$2"; shift ;;
    -h | --help) sed -n '2,15p' "$0"; exit 0 ;;
    *) targets+=("$1") ;;
  esac
  shift
done
all=(tool_arguments scim_filter_builder cursor_open ratelimit_headers docs_loader sim_filter oauth_token)
((${#targets[@]})) || targets=("${all[@]}")

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi
if ! rustc --version | grep -q nightly; then
  export RUSTC_BOOTSTRAP=1
fi
# The same flags for build and run, so the run reuses the build.
flags=(--sanitizer none --debug-assertions --codegen-units 8)

echo "== building the fuzz targets"
cargo fuzz build "${flags[@]}"

# Seeds: the real docs YAML for the loader, a few filters for the parsers.
mkdir -p corpus/docs_loader corpus/sim_filter
cp "$root/specs/1password-scim.docs.yaml" corpus/docs_loader/seed-real-docs.yaml
i=0
for filter in \
  'userName eq "jane.doe@example.com"' \
  'emails co "@external-agency.com" and active eq true' \
  'emails[type eq "work" and value co "@example.com"] or not (displayName pr)' \
  'members[value eq "ABC"]' \
  'urn:ietf:params:scim:schemas:core:2.0:User:name.givenName sw "J" and meta.lastModified gt "2026-01-01T00:00:00Z"' \
  'emails[type eq "work"].value ew ".com"' \
  'count ge 1.5e3 or nothing eq null'; do
  printf '%s' "$filter" > "corpus/sim_filter/seed-$i"
  i=$((i + 1))
done

passed=0
failed=0
summary=()
for target in "${targets[@]}"; do
  echo "== fuzzing $target for ${seconds} s"
  log="$(mktemp)"
  status=0
  cargo fuzz run "${flags[@]}" "$target" -- \
    -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=2048 -timeout=10 \
    >"$log" 2>&1 || status=$?
  runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)"
  if [[ -z "$runs" ]]; then
    runs="$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')"
  fi
  cov="$(grep -oE 'cov: [0-9]+' "$log" | tail -1)"
  if ((status == 0)); then
    passed=$((passed + 1))
    summary+=("$(printf '%-22s ok      %12s executions  %s' "$target" "${runs:-?}" "$cov")")
  else
    failed=$((failed + 1))
    tail -40 "$log"
    artifact="$(grep -oE 'fuzz/artifacts/[^ ]+' "$log" | tail -1 || true)"
    summary+=("$(printf '%-22s FAILED  %12s executions  %s' "$target" "${runs:-?}" "${artifact:-see the log above}")")
  fi
  rm -f "$log"
done

echo "== summary (${seconds} s per target)"
printf '%s\n' "${summary[@]}"
echo "fuzz: $passed passed, $failed failed"
((failed == 0))
