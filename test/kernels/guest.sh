#!/bin/sh
# Runs as PID 1 in a test:kernels guest, on the host's root (read-only): the kernel-facing tests as
# root with CI=true, their TAP in the results share, then power off.
set -u
. /run/kout/env
# (NODE_OPTIONS=--jitless would start node a quarter faster under TCG, but node then warns on
# stderr, which the tests read.)
export CI=true HOME=/root PATH TC_TOP_TEST_SLOW
ip link set lo up
cd "$REPO"
echo "guest: $(uname -r), $(nproc) CPUs, $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) MiB"
start=$(date +%s)
# shellcheck disable=SC2086
node --import tsx --test --test-concurrency=1 --test-timeout="$TEST_TIMEOUT_MS" \
  --test-reporter=tap --test-reporter-destination=/run/kout/tap \
  --test-reporter=spec --test-reporter-destination=stdout \
  $TESTS
echo "$? $(( $(date +%s) - start ))" >/run/kout/result
sync
echo o >/proc/sysrq-trigger
sleep 30
