#!/usr/bin/env bash
# The lab's scenarios. MODE 'real' runs inside the lab guest against the real kernel; 'sim' runs the same steps
# against forbc's simulated kernel. Lines "OBS …" are what is observable (devices, available_instances, VF
# counts, errnos): the lab compares them between the two modes. Lines "LAB-CHECK PASS|FAIL name" are checks.
set -u
MODE=$1
SCENARIO=$2
REPO=$(cd "$(dirname "$0")/../.." && pwd)
FORBC=$REPO/.build/debug/forbc
STATE=$(mktemp -d)
WORK=$(mktemp -d)
case "$MODE:$SCENARIO" in
sim:mdev) HOST=(--simulate mtty --state-dir "$STATE") ;;
sim:sriov) HOST=(--simulate qemu-nvme-sriov --state-dir "$STATE") ;;
*) HOST=(--state-dir "$STATE") ;;
esac
# No step may hang the guest: each forbc call is bounded.
forbc() { timeout 240 "$FORBC" "$1" "${HOST[@]}" "${@:2}"; }
check() { local name=$1; shift; if "$@" >/dev/null 2>&1; then echo "LAB-CHECK PASS $name"; else echo "LAB-CHECK FAIL $name"; fi; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); $1"; }

# ---------------------------------------------------------------- mdev: the mtty parent
mdev_manifest() { # serial count, dual present (yes/no)
    cat > "$WORK/m.yaml" <<YAML
apiVersion: forbc/v1
kind: Host
metadata: {name: lab}
spec:
  gpus:
    - select: {parent: mtty}
      vgpu:
        - {name: serial, type: mtty-1, count: $1}
$( [ "$2" = yes ] && echo "        - {name: dual, type: mtty-2}")
  prune: all
YAML
    echo "$WORK/m.yaml"
}
mdev_obs() { # step
    forbc discover --output json 2>/dev/null | json "
p = [x for x in d['mdevParents'] if x['name'] == 'mtty'][0]
a = ','.join(str(t['availableInstances']) for t in sorted(p['types'], key=lambda t: t['id']))
m = ' '.join(sorted(x['uuid'] + ':' + x['type'] for x in d['mdevs']))
print('OBS $1 available=' + a + ' mdevs=' + m)"
}
uuids() { json "print(' '.join(sorted(p['uuid'] for p in d['partitions'] if 'uuid' in p)))"; }
present() { forbc discover --output json 2>/dev/null | json "print(' '.join(sorted(x['uuid'] for x in d['mdevs'])))"; }

if [ "$SCENARIO" = mdev ]; then
    mdev_obs start
    M=$(mdev_manifest 2 yes)
    planned=$(forbc plan "$M" --output json 2>/dev/null | uuids)
    check apply-creates forbc apply "$M"
    mdev_obs applied
    check devices-are-the-planned-uuids test "$(present)" = "$planned"
    # 24 single ports: two mtty-1 and one mtty-2 take 4, leaving 20 (mtty-1) and 10 (mtty-2).
    check available-dropped grep -q "^OBS x available=20,10 " <<<"$(mdev_obs x)"
    out=$(forbc apply "$M" 2>&1)
    check second-apply-writes-nothing grep -q "No changes" <<<"$out"
    check drift-in-sync forbc drift "$M"
    victim=$(forbc plan "$M" --output json 2>/dev/null | json "print([p['uuid'] for p in d['partitions'] if p['name'] == 'serial-0'][0])")
    echo "OBS remove-behind-back $(forbc sysfs-write /sys/bus/mdev/devices/$victim/remove 1 2>/dev/null)"
    mdev_obs removed
    forbc drift "$M" > "$WORK/drift.txt" 2>&1
    rc=$?
    check drift-exit-2-naming-it test "$rc" = 2 -a -n "$(grep "'serial-0'" "$WORK/drift.txt")"
    check apply-recreates forbc apply "$M"
    check same-uuid-again test "$(present)" = "$planned"
    mdev_obs repaired
    M3=$(mdev_manifest 3 yes)
    check count-change-applies forbc apply "$M3"
    now=$(present)
    kept=yes
    for u in $planned; do grep -q "$u" <<<"$now" || kept=no; done
    check count-change-keeps-the-others test "$kept" = yes
    mdev_obs counted
    # Kernel answers to bad writes, as errnos.
    echo "OBS duplicate-uuid $(forbc sysfs-write /sys/class/mdev_bus/mtty/mdev_supported_types/mtty-1/create "$victim" 2>/dev/null)"
    echo "OBS bad-uuid $(forbc sysfs-write /sys/class/mdev_bus/mtty/mdev_supported_types/mtty-1/create not-a-uuid 2>/dev/null)"
    echo "OBS read-only $(forbc sysfs-write /sys/class/mdev_bus/mtty/mdev_supported_types/mtty-1/available_instances 3 2>/dev/null)"
    check destroy forbc destroy "$M3" --yes
    check destroy-leaves-none test -z "$(present)"
    mdev_obs destroyed
fi

# ---------------------------------------------------------------- SR-IOV: QEMU's NVMe PF (2 VFs)
if [ "$SCENARIO" = sriov ]; then
    if [ "$MODE" = real ]; then
        PF=""
        for d in /sys/bus/pci/devices/*; do [ -e "$d/sriov_totalvfs" ] && PF=${d##*/}; done
        check found-the-sr-iov-pf test -n "$PF"
        # The VFs' own probe says "Device not ready" under QEMU: keep them unbound.
        echo 0 > "/sys/bus/pci/devices/$PF/sriov_drivers_autoprobe"
    else
        PF=0000:01:00.0
    fi
    sriov_manifest() {
        printf 'apiVersion: forbc/v1\nkind: Host\nmetadata: {name: lab}\nspec:\n  gpus:\n    - select: {pciAddress: "%s"}\n      sriov: {vfs: %s}\n' "$PF" "$1" > "$WORK/s$1.yaml"
        echo "$WORK/s$1.yaml"
    }
    sriov_obs() {
        forbc discover --include "$PF" --output json 2>/dev/null | json "
g = [x for x in d['gpus'] if x['address'] == '$PF'][0]
print('OBS $1 total=%d numvfs=%d virtfn=%d driver=%s' % (g['sriov']['totalVFs'], g['sriov']['numVFs'], len(g['vfs']), g.get('driver')))"
    }
    sriov_obs start
    check apply-2-vfs forbc apply "$(sriov_manifest 2)"
    sriov_obs two
    check virtfn-links-match test "$(sriov_obs x)" = "OBS x total=2 numvfs=2 virtfn=2 driver=nvme"
    values=$(forbc plan "$(sriov_manifest 1)" --output json 2>/dev/null | json "print(' '.join(a['value'] for a in d['actions']))")
    check through-zero test "$values" = "0 1"
    check apply-1-vf forbc apply "$(sriov_manifest 1)" --yes
    sriov_obs one
    check apply-0-vfs forbc apply "$(sriov_manifest 0)" --yes
    sriov_obs zero
    # A write the kernel refuses: sriov_numvfs of a PF without a driver is ENOENT.
    echo "OBS unbind $(forbc sysfs-write /sys/bus/pci/drivers/nvme/unbind "$PF" 2>/dev/null)"
    forbc apply "$(sriov_manifest 2)" > "$WORK/refused.txt" 2>&1
    rc=$?
    errno=$(grep -o '([A-Z]*)$' "$WORK/refused.txt" | tail -1)
    echo "OBS refused rc=$rc errno=$errno"
    check refusal-reported-with-errno test "$rc" = 1 -a -n "$errno"
    sriov_obs refused
    echo "OBS bind $(forbc sysfs-write /sys/bus/pci/drivers/nvme/bind "$PF" 2>/dev/null)"
    [ "$MODE" = real ] && sleep 1
    check rerun-converges forbc apply "$(sriov_manifest 2)"
    sriov_obs rebound
    check destroy forbc destroy "$(sriov_manifest 2)" --yes
    sriov_obs destroyed
fi

# ---------------------------------------------------------------- libvirt: a running domain, hot-plug, --force
if [ "$SCENARIO" = libvirt ]; then
    /lib/systemd/systemd-udevd --daemon >/dev/null 2>&1 || true
    getent group kvm >/dev/null || groupadd -r kvm
    getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
    id libvirt-qemu >/dev/null 2>&1 || useradd -r -g libvirt-qemu -G kvm -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
    virtlogd -d
    libvirtd -d
    for _ in $(seq 1 120); do [ -S /var/run/libvirt/libvirt-sock ] && break; sleep 0.5; done
    check libvirtd-started test -S /var/run/libvirt/libvirt-sock
    lv() {
        cat > "$WORK/l.yaml" <<YAML
apiVersion: forbc/v1
kind: Host
metadata: {name: lab}
spec:
  gpus:
    - select: {parent: mtty}
      vgpu:
$1
  vms:
    - {domain: lab-vm, attach: [$2], live: true}
  prune: all
YAML
        echo "$WORK/l.yaml"
    }
    ports=$(for i in 1 2 3 4 5 6 7 8; do echo "<controller type='pci' index='$i' model='pcie-root-port'/>"; done)
    cat > "$WORK/vm.xml" <<XML
<domain type='qemu'>
  <name>lab-vm</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <controller type='pci' index='0' model='pcie-root'/>
    $ports
  </devices>
</domain>
XML
    check define-domain virsh -c qemu:///system define "$WORK/vm.xml"
    ONE="        - {name: one, type: mtty-2}"
    TWO="        - {name: two, type: mtty-2}"
    # One forbc-created mdev in the shut-off domain's definition, then start it paused.
    check apply-attaches-one forbc apply "$(lv "$ONE" one)"
    check domain-starts virsh -c qemu:///system start --paused lab-vm
    live_uuids() { virsh -c qemu:///system dumpxml lab-vm 2>/dev/null | grep -o "uuid='[0-9a-f-]*'" | sort | tr '\n' ' '; }
    echo "OBS live-before $(live_uuids)"
    # live: true hot-plugs the second.
    check apply-hot-plugs-two forbc apply "$(lv "$ONE
$TWO" "one, two")"
    echo "OBS live-after $(live_uuids)"
    check two-is-live test "$(live_uuids | wc -w)" = 2
    check drift-in-sync forbc drift "$(lv "$ONE
$TWO" "one, two")"
    TWO_UUID=$(forbc plan "$(lv "$ONE
$TWO" "one, two")" --output json 2>/dev/null | json "print([p['uuid'] for p in d['partitions'] if p['name'] == 'two'][0])")
    # Dropping 'two' while the domain runs is refused; --force detaches live, then destroys.
    forbc apply "$(lv "$ONE" one)" --yes > "$WORK/refused.txt" 2>&1
    rc=$?
    check refused-while-running test "$rc" = 1 -a -n "$(grep "running domain 'lab-vm'" "$WORK/refused.txt")"
    # --force asks the running domain to release it live. This guest has no OS (it is paused in firmware), so
    # it never answers the unplug request: forbc must say so and destroy nothing, not block in the kernel.
    forbc apply "$(lv "$ONE" one)" --yes --force > "$WORK/forced.txt" 2>&1
    rc=$?
    echo "OBS forced rc=$rc live=$(live_uuids | wc -w) mdevs=$(ls /sys/bus/mdev/devices | wc -l)"
    check force-waits-for-the-guest-and-destroys-nothing test "$rc" = 1 -a -n "$(grep 'has not released it' "$WORK/forced.txt")" -a "$(ls /sys/bus/mdev/devices | wc -l)" = 2
    # Once the domain is down, the same manifest detaches from its definition and destroys.
    check domain-stops virsh -c qemu:///system destroy lab-vm
    check then-apply-detaches-and-destroys forbc apply "$(lv "$ONE" one)" --yes
    check two-is-gone test "$(ls /sys/bus/mdev/devices | wc -l)" = 1
    check two-left-the-definition test -z "$(virsh -c qemu:///system dumpxml --inactive lab-vm | grep "$TWO_UUID")"
    check drift-in-sync-after forbc drift "$(lv "$ONE" one)"
fi
rm -rf "$STATE" "$WORK"
