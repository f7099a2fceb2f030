#!/usr/bin/env bash
# npm run test:kernels: the kernel-facing tests on the kernels users run, each in a QEMU guest.
#
# For each kernel (Debian's newest 6.1, as in Debian 12 and like Amazon Linux 2023's, without tcx;
# Debian's newest 6.12, with tcx): `apt-get download` its package (cached under .cache/kernels),
# boot it in QEMU (TCG) with this machine's root shared read-only over
# 9p and tmpfs where the guest writes, run the kernel-facing test files inside as root with CI=true,
# and print one line per kernel. Guests run one at a time. Every way out stops the guest and removes
# its files (trap). Exit status: 0 when every kernel passed.
#
# Environment: TC_TOP_KERNELS="6.1 6.12" (series to run), TC_TOP_KERNEL_TESTS (test files, repo
# relative), TC_TOP_GUEST_TIMEOUT (seconds per guest, default 1200), TC_TOP_KERNELS_VERBOSE=1 (stream
# each guest's console), TC_TOP_ACCEL=kvm (default tcg).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
cd "$REPO"

SERIES=${TC_TOP_KERNELS:-6.1 6.12}
# The kernel-facing files the guests run, sized for TCG (12 to 14 min per kernel here): exact counts
# per hook and map kind, every way of ending, leftovers and --cleanup, foreign hooks, the privilege
# drop, the demo, the parser through BPF_PROG_TEST_RUN, the process owners, the handshake RTT at a
# router, and captures read in batches (the replay program's head and tail moves, and its global
# function, against the live TC programs on each kernel). The others run
# on this machine's kernel in npm test; pass them here to add them: health-kernel (its RTT and
# retransmit checks against ss and iperf3 are timing-sensitive under emulation) and pcap (about 100 s
# a guest) passed in both guests on 2026-11-30; fuzz, reader, slots, traffic, hook-counts,
# metrics-prometheus.
TESTS=${TC_TOP_KERNEL_TESTS:-test/counts.test.ts test/lifecycle.test.ts test/coexist.test.ts test/cleanup-clsact.test.ts \
test/demo.test.ts test/binary.test.ts test/robustness.test.ts test/parser.test.ts test/owner-kernel.test.ts \
test/handshake-rtt.test.ts test/replay-batch.test.ts}
GUEST_TIMEOUT=${TC_TOP_GUEST_TIMEOUT:-1200}
CACHE="$REPO/.cache/kernels"

need() { command -v "$1" >/dev/null || { echo "test:kernels: $1 not found: $2" >&2; exit 2; }; }
need qemu-system-x86_64 'apt-get install qemu-system-x86'
need busybox 'apt-get install busybox-static'
need apt-get 'test:kernels downloads Debian kernel packages with apt-get'
need dpkg-deb 'test:kernels unpacks Debian kernel packages with dpkg-deb'
[ -f dist/bin/tc-top.js ] || { echo 'test:kernels: no dist/: run `npm run build` first' >&2; exit 2; }
case "$(file -b "$(command -v busybox)" 2>/dev/null || echo static)" in *dynamic*) echo 'test:kernels: busybox must be static (busybox-static)' >&2; exit 2 ;; esac

WORK=$(mktemp -d /tmp/tct-kernels.XXXXXX)
QEMU_PID=
cleanup() {
  if [ -n "$QEMU_PID" ] && kill -0 "$QEMU_PID" 2>/dev/null; then
    kill "$QEMU_PID" 2>/dev/null || true
    sleep 1
    kill -9 "$QEMU_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# TCG (software emulation) by default: it works everywhere, with or without a usable /dev/kvm (here
# /dev/kvm exists, but QEMU's KVM aborts on an MSR the nested hypervisor refuses).
ACCEL=${TC_TOP_ACCEL:-tcg}

# The newest Debian kernel package of a series (the generic amd64 flavour).
package_for() {
  local pattern
  case "$1" in
    6.1) pattern='^linux-image-6\.1\.0-[0-9]+-amd64$' ;;
    *) pattern="^linux-image-${1//./\\.}\\.[0-9]+\\+deb[0-9]+-amd64\$" ;;
  esac
  apt-cache search --names-only "$pattern" | awk '{print $1}' | sort -V | tail -1
}

# Modules the initramfs loads (with their dependencies, first): 9p over virtio for the root, and
# what the tests use (nothing can load a module later: the host root has no modprobe for this kernel).
MODULES='virtio_pci 9pnet_virtio 9p veth sch_ingress cls_bpf'
# And what the health tests use where the kernel has it (TBF queues, nftables rules, ss's socket
# diagnostics), skipped when a kernel has neither the module nor it built in. crc32c_generic comes
# first: libcrc32c (nf_tables needs it) asks for crc32c through a soft dependency, not followed here.
OPTIONAL_MODULES='sch_tbf crc32c_generic nf_tables nft_numgen nft_counter inet_diag tcp_diag udp_diag'

# Build the initramfs of busybox, the init and the modules (decompressed) for one unpacked kernel.
make_initramfs() {
  local moddir=$1 kver=$2 out=$3 dir=$WORK/initramfs
  rm -rf "$dir" && mkdir -p "$dir"/{bin,proc,sys,dev,modules,newroot}
  cp "$(command -v busybox)" "$dir/bin/busybox"
  cp test/kernels/initramfs-init.sh "$dir/init" && chmod +x "$dir/init"
  declare -A path=()
  local f n
  while IFS= read -r f; do
    n=$(basename "$f"); n=${n%%.ko*}; path[${n//-/_}]=$f
  done < <(find "$moddir/kernel" -name '*.ko*')
  local order=()
  declare -A seen=()
  add() {
    local m=${1//-/_} dep raw
    [ -n "${seen[$m]:-}" ] && return 0
    seen[$m]=1
    if [ -z "${path[$m]:-}" ]; then
      grep -q "/$m.ko" "$moddir/modules.builtin" 2>/dev/null || grep -q "/${m//_/-}.ko" "$moddir/modules.builtin" 2>/dev/null ||
        { echo "test:kernels: module $m is neither in $kver's package nor built in" >&2; return 1; }
      return 0
    fi
    raw=$dir/modules/$m.ko
    case "${path[$m]}" in
      *.xz) busybox xz -dc "${path[$m]}" >"$raw" ;;
      *.zst) zstd -qdc "${path[$m]}" >"$raw" ;;
      *.gz) gzip -dc "${path[$m]}" >"$raw" ;;
      *) cp "${path[$m]}" "$raw" ;;
    esac
    for dep in $(tr '\0' '\n' <"$raw" | sed -n 's/^depends=//p' | tr ',' ' '); do add "$dep" || return 1; done
    order+=("$m")
  }
  for n in $MODULES; do add "$n" || return 1; done
  for n in $OPTIONAL_MODULES; do add "$n" 2>/dev/null || true; done
  printf '%s\n' "${order[@]}" >"$dir/modules/order"
  (cd "$dir" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1 >"$out")
  rm -rf "$dir"
}

# The system's tools first: a version manager's shims (pyenv) cost a second per python3 under TCG.
NODE_DIR=$(dirname "$(command -v node)")
case "$NODE_DIR" in /tmp/* | /run/* | /root/*) echo "test:kernels: node is under $NODE_DIR, which the guest covers with tmpfs" >&2; exit 2 ;; esac
GUEST_PATH=$NODE_DIR:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

failed=0
# One line per kernel on stdout as each guest ends (the rest goes to stderr).
summary() { echo "$1"; }
for series in $SERIES; do
  pkgname=$(package_for "$series")
  if [ -z "$pkgname" ]; then
    echo "test:kernels: no Debian kernel package of $series reachable from the apt sources: skipped" >&2
    summary "kernel $series: NOT RUN (no package in the configured apt sources)"
    failed=1
    continue
  fi
  kver=${pkgname#linux-image-}
  mkdir -p "$CACHE"
  deb=$(ls "$CACHE/${pkgname}_"*.deb 2>/dev/null | sort -V | tail -1 || true)
  if [ -z "$deb" ]; then
    echo "test:kernels: downloading $pkgname" >&2
    (cd "$CACHE" && apt-get download -q "$pkgname" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2 || true)
    deb=$(ls "$CACHE/${pkgname}_"*.deb 2>/dev/null | sort -V | tail -1 || true)
    [ -n "$deb" ] || { summary "kernel $kver: NOT RUN (apt-get download $pkgname failed)"; failed=1; continue; }
  fi
  # Older packages of the series are stale once a newer one is cached.
  for old in "$CACHE"/linux-image-"$series".*.deb "$CACHE"/linux-image-"$series"-*.deb; do
    case "$old" in "$deb" | "$CACHE/${pkgname}_"*) ;; *) rm -rf "$old" "$CACHE/$(basename "${old%%_*}" | sed 's/^linux-image-//')"-* ;; esac
  done

  guest=$WORK/$kver
  mkdir -p "$guest/share"
  # The kernel and its initramfs, kept beside the package: rebuilt when the init or the modules change.
  boot=$CACHE/$kver-$(cat test/kernels/initramfs-init.sh <(echo "$MODULES $OPTIONAL_MODULES") | sha256sum | cut -c1-12)
  if [ ! -s "$boot/initrd.gz" ]; then
    rm -rf "$CACHE/$kver"-* && mkdir -p "$guest/pkg" "$boot"
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$guest/pkg" --wildcards './boot/vmlinuz-*' './lib/modules/*'
    cp "$guest/pkg/boot/vmlinuz-$kver" "$boot/vmlinuz"
    make_initramfs "$guest/pkg/lib/modules/$kver" "$kver" "$boot/initrd.gz" || { rm -rf "$boot" "$guest"; summary "kernel $kver: NOT RUN (initramfs)"; failed=1; continue; }
    rm -rf "$guest/pkg"
  fi
  # Under emulation everything runs several times slower: the tests' waits scale with this.
  slow=1; [ "$ACCEL" = tcg ] && slow=${TC_TOP_TEST_SLOW:-8}
  cp test/kernels/guest.sh "$guest/share/guest.sh"
  cat >"$guest/share/env" <<ENV
REPO='$REPO'
PATH='$GUEST_PATH'
TESTS='$TESTS'
TC_TOP_TEST_SLOW='$slow'
TEST_TIMEOUT_MS='$(( 120000 * slow ))'
ENV
  echo "test:kernels: booting $kver ($ACCEL) for $(echo "$TESTS" | wc -w) test files" >&2
  start=$(date +%s)
  qemu-system-x86_64 -accel "$ACCEL" -m 3072 -smp 2 -cpu "${TC_TOP_QEMU_CPU:-$([ "$ACCEL" = kvm ] && echo host || echo max)}" -nodefaults -no-reboot -display none \
    -kernel "$boot/vmlinuz" -initrd "$boot/initrd.gz" \
    -append "console=ttyS0 quiet loglevel=3 panic=-1 oops=panic sysrq_always_enabled=1" \
    -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
    -virtfs "local,path=$guest/share,mount_tag=kout,security_model=none" \
    -virtfs "local,path=$REPO,mount_tag=repo,security_model=none,readonly=on,multidevs=remap" \
    -serial "file:$guest/console.log" -monitor none </dev/null >"$guest/qemu.log" 2>&1 &
  QEMU_PID=$!
  if [ "${TC_TOP_KERNELS_VERBOSE:-}" = 1 ]; then
    tail -n +1 -F --pid="$QEMU_PID" "$guest/console.log" 2>/dev/null | sed -u "s/^/[$series] /" &
  fi
  timed_out=
  while kill -0 "$QEMU_PID" 2>/dev/null; do
    if [ $(( $(date +%s) - start )) -ge "$GUEST_TIMEOUT" ]; then
      timed_out=1
      kill "$QEMU_PID" 2>/dev/null || true
      sleep 2
      kill -9 "$QEMU_PID" 2>/dev/null || true
    fi
    sleep 2
  done
  wait "$QEMU_PID" 2>/dev/null || true
  QEMU_PID=
  took=$(( $(date +%s) - start ))
  tap=$guest/share/tap
  count() { { grep -E "^# $1 [0-9]+" "$tap" 2>/dev/null || echo "# $1 0"; } | tail -1 | awk '{print $3}'; }
  pass=$(count pass); fail=$(count fail); skip=$(count skipped); cancelled=$(count cancelled)
  if [ -f "$guest/share/result" ] && [ "$(cut -d' ' -f1 "$guest/share/result")" = 0 ] && [ "$fail" = 0 ] && [ "$cancelled" = 0 ]; then
    summary "kernel $kver ($ACCEL): pass $pass, fail 0, skipped $skip, ${took} s"
  else
    failed=1
    why=
    [ -n "$timed_out" ] && why=", timed out after ${GUEST_TIMEOUT} s"
    [ -f "$guest/share/result" ] || why="$why, no result from the guest"
    summary "kernel $kver ($ACCEL): FAILED: pass $pass, fail $fail, cancelled $cancelled, skipped $skip, ${took} s$why"
    if [ "${TC_TOP_KERNELS_VERBOSE:-}" != 1 ]; then
      echo "----- $kver: guest console -----"
      sed "s/^/[$series] /" "$guest/console.log" | tail -n 400
      echo "----- $kver: end -----"
    fi
    [ -s "$guest/qemu.log" ] && sed "s/^/[$series qemu] /" "$guest/qemu.log"
  fi
  rm -rf "$guest"
done

exit "$failed"
