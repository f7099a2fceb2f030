#!/bin/busybox sh
# PID 1 of a test:kernels guest (busybox, in the initramfs): load the 9p/virtio modules and those the
# tests need (the host root has no modules for this kernel, and no modprobe), mount the host's root read-only (9p) with tmpfs where the guest writes, and hand over
# to guest.sh on that root. Any failure powers the guest off; the host sees no result file.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
fail() { echo "tc-top guest init: $*"; echo o >/proc/sysrq-trigger; sleep 10; }
while read -r m; do
  insmod "/modules/$m.ko" || fail "insmod $m"
done </modules/order
mkdir -p /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=262144 hostroot /newroot || fail 'mounting the host root'
for d in proc sys dev run tmp root var/tmp; do [ -d "/newroot/$d" ] || fail "no /$d on the host root"; done
mount -t proc proc /newroot/proc
mount -t sysfs sysfs /newroot/sys
mount -t devtmpfs devtmpfs /newroot/dev
mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /newroot/dev/pts
mount -t tmpfs tmpfs /newroot/dev/shm
for d in run tmp root var/tmp; do mount -t tmpfs -o mode=1777 tmpfs "/newroot/$d"; done
mkdir -p /newroot/run/kout
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 kout /newroot/run/kout || fail 'mounting the results share'
# A checkout under /tmp, /run, /root or /var/tmp is hidden by the tmpfs above: mount it (shared on
# its own) back at its path.
REPO=$(sed -n "s/^REPO='\(.*\)'$/\1/p" /newroot/run/kout/env)
if [ -n "$REPO" ] && [ ! -d "/newroot$REPO" ]; then
  mkdir -p "/newroot$REPO" && mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=262144 repo "/newroot$REPO" || fail "mounting the checkout at $REPO"
fi
mount -t bpf bpf /newroot/sys/fs/bpf 2>/dev/null
mount -t cgroup2 cgroup2 /newroot/sys/fs/cgroup 2>/dev/null
exec switch_root /newroot /bin/sh /run/kout/guest.sh
