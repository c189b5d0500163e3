#!/usr/bin/env bash
# The lab's scenarios. MODE 'real' runs inside the lab guest against the real kernel; 'sim' runs the same steps
# against forbc's simulated kernel. Lines "OBS …" are what is observable (devices, available_instances, VF
# counts, errnos): the lab compares them between the two modes. Lines "LAB-CHECK PASS|FAIL name" are checks.
set -u
# A crash prints one line and ends forbc at once: the backtracer, symbolicating a debug build over 9p under TCG,
# held the crashed process (and its locks) for minutes.
export SWIFT_BACKTRACE=enable=no
MODE=$1
SCENARIO=$2
REPO=$(cd "$(dirname "$0")/../.." && pwd)
FORBC=$REPO/.build/debug/forbc
STATE=$(mktemp -d)
WORK=$(mktemp -d)
case "$MODE:$SCENARIO" in
sim:mdev) HOST=(--simulate mtty --state-dir "$STATE") ;;
sim:sriov) HOST=(--simulate qemu-nvme-sriov --state-dir "$STATE") ;;
real:reboot) HOST=() ;;  # forbc's own state dir, /var/lib/forbc: on the persistent disk
*) HOST=(--state-dir "$STATE") ;;
esac
# No step may hang the guest: each forbc call is bounded.
forbc() {
    local command=("$1")
    [ "$1" = bench ] && command+=("$2") && shift
    timeout "${FORBC_TIMEOUT:-240}" "$FORBC" "${command[@]}" "${HOST[@]}" "${@:2}"
}
# A failed check shows the last lines its command printed (forbc's error, with its path and errno), so a failure in
# the real kernel can be read from the lab's output alone.
check() {
    local name=$1 out; shift
    if out=$("$@" 2>&1); then echo "LAB-CHECK PASS $name"; else
        echo "LAB-CHECK FAIL $name"
        printf '%s\n' "$out" | tail -n 6 | sed "s/^/LAB-OUT $name: /"
    fi
}
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
    # The same manifest in a small git work tree: plan ends within 60 s and says where it came from (git's runs
    # for provenance once waited for their 300 s deadline in this guest: Foundation's Process, no loopback).
    G=$(mktemp -d)
    git init -q "$G" && cp "$M" "$G/m.yaml" && git -C "$G" add m.yaml \
        && git -C "$G" -c user.name=lab -c user.email=lab@forbc.invalid commit -qm lab
    started_git=$(date +%s%N)
    check plan-in-git-tree-shows-source grep -q "^Source: m.yaml at [0-9a-f]\{12\} in $G\$" \
        <<<"$(FORBC_TIMEOUT=60 forbc plan "$G/m.yaml" 2>&1)"
    echo "LAB-NOTE plan in a git work tree: $(( ($(date +%s%N) - started_git) / 1000000 )) ms"
    rm -rf "$G"
    started_git=$(date +%s%N)
    FORBC_TIMEOUT=60 forbc plan "$M" > /dev/null 2>&1
    echo "LAB-NOTE the same plan outside git: $(( ($(date +%s%N) - started_git) / 1000000 )) ms"
    victim=$(forbc plan "$M" --output json 2>"$WORK/plan.err" | json "print([p['uuid'] for p in d['partitions'] if p['name'] == 'serial-0'][0])")
    [ -n "$victim" ] || sed "s/^/LAB-OUT plan-json: /" "$WORK/plan.err" | tail -n 6
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
    # KVM inside this TCG guest: QEMU's TCG emulates AMD's SVM for -cpu max, so Debian's kvm_amd loads, and
    # lab-guest (below) runs under KVM here. Under TCG inside TCG it had not reached its init after 600 s. KVM uses
    # shadow paging here (npt=0): with nested paging on TCG's emulated NPT this guest's kernel panicked once
    # ("corrupted stack end detected inside scheduler") and locked up once (soft lockup) in four runs, and the
    # nested guest answered its agent after 65-123 s; with npt=0 it answered after 39 s.
    GUEST_TYPE=qemu
    if modprobe -d "$FORBC_LAB_KROOT" kvm_amd npt=0 2>/dev/null && [ -c /dev/kvm ]; then
        # What udev would do: libvirt probes /dev/kvm as libvirt-qemu (group kvm).
        chgrp kvm /dev/kvm && chmod 0660 /dev/kvm && GUEST_TYPE=kvm
    fi
    echo "LAB-NOTE lab-guest runs under '$GUEST_TYPE' ($(grep -c -w svm /proc/cpuinfo) vCPUs with svm)"
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
    # lab-guest: a domain with an OS, as Tests/VM/guest's is: the lab's kernel and initramfs, this guest's root
    # (itself this machine's, over 9p) shared read-only over 9p, Tests/VM/guest-init keeping qemu-ga running on
    # org.qemu.guest_agent.0, the Python with numpy first in its PATH. qemu runs as root for it (static DAC label),
    # as for Tests/VM/guest. Kept small: 1 vCPU, 256 MiB. Its root ports hot-plug natively (pciehp): with q35's
    # ACPI hot-plug (QEMU's default since 6.1), plugging the mdev made this guest remove its virtio devices (9p,
    # the agent's port) instead; and without pcie_ports=native its kernel bound pciehp to no port, so the
    # plugged function stayed powered off, unseen even by a rescan.
    guest_xml() {
        local kver
        kver=$(uname -r)
        cat <<XML
<domain type='$GUEST_TYPE' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>lab-guest</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <cpu mode='maximum' migratable='off'/>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>$FORBC_LAB_KROOT/boot/vmlinuz-$kver</kernel>
    <initrd>$FORBC_LAB_DIR/initrd-$kver.img</initrd>
    <cmdline>console=ttyS0 panic=-1 rdinit=/init quiet pcie_ports=native forbc.init=$REPO/Tests/VM/guest-init forbc.kroot=$FORBC_LAB_KROOT forbc.python=$FORBC_LAB_PYTHON forbc.name=lab-guest</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <controller type='pci' index='0' model='pcie-root'/>
    $ports
    <filesystem type='mount' accessmode='passthrough' multidevs='remap'>
      <source dir='/'/>
      <target dir='hostroot'/>
      <readonly/>
    </filesystem>
    <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
    <serial type='file'><source path='$GUEST_LOG' append='off'/><target port='0'/></serial>
    <console type='file'><source path='$GUEST_LOG' append='off'/><target type='serial' port='0'/></console>
    <memballoon model='none'/>
  </devices>
  <seclabel type='static' model='dac' relabel='no'><label>+0:+0</label></seclabel>
  <qemu:commandline>
    <qemu:arg value='-global'/>
    <qemu:arg value='ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off'/>
  </qemu:commandline>
</domain>
XML
    }
    GUEST_LOG=/var/log/console-lab-guest.log
    guest_sh() { # a shell command in lab-guest through its agent (guest-exec, guest-exec-status): its output
        python3 - "$1" <<'PY'
import base64, json, subprocess, sys, time
def call(command, **arguments):
    text = subprocess.run(["virsh", "-c", "qemu:///system", "qemu-agent-command", "lab-guest",
                           json.dumps({"execute": command, "arguments": arguments})],
                          capture_output=True, text=True, check=True).stdout
    return json.loads(text)["return"]
pid = call("guest-exec", path="sh", arg=["-c", sys.argv[1]], **{"capture-output": True})["pid"]
for _ in range(150):
    status = call("guest-exec-status", pid=pid)
    if status["exited"]:
        sys.stdout.write(base64.b64decode(status.get("out-data", "")).decode())
        sys.exit(status.get("exitcode", 1))
    time.sleep(0.2)
sys.exit(124)
PY
    }
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
    # The second domain boots Linux (1–2 minutes here), so it is started now and boots while lab-vm's steps run.
    guest_xml > "$WORK/guest.xml"
    check define-booting-domain virsh -c qemu:///system define "$WORK/guest.xml"
    check booting-domain-starts virsh -c qemu:///system start lab-guest
    guest_started=$(date +%s)
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

    # ------------------------------------------------ a suite on an mdev partition attached to the booted domain
    ping() { virsh -c qemu:///system qemu-agent-command --timeout 5 lab-guest '{"execute":"guest-ping"}' >/dev/null 2>&1; }
    until ping || [ $(( $(date +%s) - guest_started )) -ge "${FORBC_LAB_NESTED_TIMEOUT:-600}" ] \
        || [ "$(virsh -c qemu:///system domstate lab-guest 2>/dev/null)" != running ]; do sleep 2; done
    echo "LAB-NOTE lab-guest: guest-ping $(( $(date +%s) - guest_started )) s after start;" \
        "$(tr -d '\r' < "$GUEST_LOG" | grep -a -o 'AGENT-BOOTED.*')"
    check nested-guest-agent-answers ping
    ping || tr -d '\r' < "$GUEST_LOG" | tail -n 30 | sed 's/^/LAB-NOTE lab-guest console: /'
    # The partition 'bench' is created and hot-plugged into lab-guest; lab-vm (shut off) keeps 'one'. A suite on
    # 'bench' runs cpu-gemm (small) inside lab-guest through its agent; 'mixed' adds 'one' (held by no running
    # domain) and lab-vm (shut off): both recorded as failed, 'bench' measured and stored beside them.
    mkdir -p "$WORK/workloads"
    cp "$REPO/Manifests/workloads/common.py" "$REPO/Manifests/workloads/cpu_gemm.py" "$WORK/workloads/"
    sed -e 's/--window, "{window}"]/--window, "{window}", --size, "64"]/' -e 's/^timeout: .*/timeout: 600/' \
        "$REPO/Manifests/workloads/cpu-gemm.yaml" > "$WORK/workloads/cpu-gemm.yaml"
    B=$WORK/b.yaml
    cat > "$B" <<YAML
apiVersion: forbc/v1
kind: Host
metadata: {name: lab}
spec:
  gpus:
    - select: {parent: mtty}
      vgpu:
$ONE
        - {name: bench, type: mtty-2}
  vms:
    - {domain: lab-vm, attach: [one], live: true}
    - {domain: lab-guest, attach: [bench], live: true}
  benchmarks:
    - {suite: in-guest, on: [bench], workloads: [cpu-gemm], repetitions: 3}
    - {suite: mixed, on: [bench, one], vms: [lab-vm], workloads: [cpu-gemm], repetitions: 3}
  prune: all
YAML
    # Every kernel message on lab-guest's console from now on (printed below if the device does not show).
    guest_sh 'echo 8 > /proc/sys/kernel/printk'
    check apply-hot-plugs-into-the-booted-domain forbc apply "$B" --no-bench
    BENCH_UUID=$(forbc plan "$B" --output json 2>/dev/null | json "print([p['uuid'] for p in d['partitions'] if p['name'] == 'bench'][0])")
    check bench-is-live-in-lab-guest grep -q "$BENCH_UUID" <<<"$(virsh -c qemu:///system dumpxml lab-guest)"
    # The guest sees it: mtty's PCI function (vendor 0x4348, device 0x3253), once its pciehp has taken the event.
    sees_mtty() { guest_sh 'grep -l 0x3253 /sys/bus/pci/devices/*/device' | grep -q devices; }
    t0=$(date +%s)
    for _ in $(seq 1 10); do sees_mtty && break; sleep 2; done
    if sees_mtty; then
        echo "LAB-NOTE lab-guest: mtty's function appeared by hot-plug in $(( $(date +%s) - t0 )) s"
    else
        echo "LAB-NOTE lab-guest: no mtty function after $(( $(date +%s) - t0 )) s; rescanning the guest's PCI bus;" \
            "$(guest_sh 'dmesg | grep -i -E "pciehp|acpiphp|pcieport|_OSC|hotplug|PME|AER" | tail -n 8' | tr '\n' ' ')"
        guest_sh 'echo 1 > /sys/bus/pci/rescan'
    fi
    check lab-guest-sees-the-mtty-device sees_mtty
    if ! sees_mtty; then
        echo "LAB-NOTE lab-guest is $(virsh -c qemu:///system domstate lab-guest); its console's end:"
        tr -d '\r' < "$GUEST_LOG" | tail -n 40 | sed 's/^/LAB-NOTE lab-guest console: /'
    fi
    t0=$(date +%s)
    # Each line forbc prints (its progress: a tenant's failure, a folder left behind) with the second it came, so
    # a slow or failed run shows where its time went.
    stamp() { while IFS= read -r line || [ -n "$line" ]; do printf '%(%H:%M:%S)T %s\n' -1 "$line"; done; }
    echo "LAB-NOTE bench run in lab-guest starts at $(date +%T)"
    FORBC_TIMEOUT=900 forbc bench run "$B" --suite in-guest --launches 1 --max-launches 1 2>&1 \
        | stamp > "$WORK/bench.txt"
    rc=${PIPESTATUS[0]}
    echo "LAB-NOTE bench run in lab-guest: exit $rc in $(( $(date +%s) - t0 )) s"
    check bench-run-in-lab-guest test "$rc" = 0
    forbc bench export > "$WORK/results.jsonl" 2>/dev/null
    # A failure shows forbc's output, what it stored for the suite (its failure, in libvirt's words), the tenant's
    # log, and the end of lab-guest's console (an agent that exited, the kernel's words).
    # A run that passed says how its time divided (the workload's own, the harness's: agent commands among it).
    [ "$rc" = 0 ] && grep -h 'wall since forbc started' "$WORK/bench.txt" | sed 's/^/LAB-NOTE bench: /'
    if [ "$rc" != 0 ]; then
        sed 's/^/LAB-NOTE bench: /' "$WORK/bench.txt"
        python3 -c "import json
for l in open('$WORK/results.jsonl'):
    r = json.loads(l) if l.strip() else {}
    if r.get('suite') == 'in-guest':
        print('LAB-NOTE in-guest stored: %s %s failure=%s logs=%s'
              % (r['tenant'], r['status'], r.get('failure'), r['logs']))" 2>&1
        for f in "$STATE"/bench-logs/*/in-guest-*.log; do
            [ -f "$f" ] && tail -n 40 "$f" | sed "s|^|LAB-NOTE in-guest $(basename "$f"): |"
        done
        tr -d '\r' < "$GUEST_LOG" | tail -n 30 | sed 's/^/LAB-NOTE lab-guest console: /'
    fi
    row() { # suite tenant → the fields that say where it ran, and how it ended
        python3 -c "import json, sys
rows = [json.loads(l) for l in open('$WORK/results.jsonl') if l.strip()]
r = [r for r in rows if r['suite'] == '$1' and r['tenant'] == '$2']
print(' '.join('%s=%s' % (k, r[0].get(k)) for k in ('status', 'domain', 'domainVCPUs', 'domainMemoryMiB',
    'partitionKind', 'partitionProfile')) + ' values=%d' % len(json.loads(r[0]['values'])) if r else 'none')"
    }
    echo "LAB-NOTE in-guest: $(row in-guest bench) median=$(python3 -c "import json
print([json.loads(l)['median'] for l in open('$WORK/results.jsonl') if l.strip()][0])" 2>/dev/null) GFLOP/s"
    check results-record-the-domain-and-partition test "$(row in-guest bench)" = \
        "status=ok domain=lab-guest domainVCPUs=1 domainMemoryMiB=256 partitionKind=mdev partitionProfile=Dual port serial values=3"
    # It ends in seconds; once it stalled past the lab's limit with nothing to show. Past 300 s it gets SIGTERM
    # (forbc's bound) and its output is printed, so a stall leaves evidence instead of a guest killed by the lab.
    FORBC_TIMEOUT=300 forbc bench run "$B" --suite mixed --launches 1 --max-launches 1 > "$WORK/mixed.txt" 2>&1
    rc=$?
    forbc bench export > "$WORK/results.jsonl" 2>/dev/null
    echo "LAB-NOTE mixed: exit $rc; bench: $(row mixed bench); one: $(row mixed one); lab-vm: $(row mixed lab-vm)"
    [ "$rc" = 1 ] || tail -n 60 "$WORK/mixed.txt" | sed 's/^/LAB-NOTE mixed output: /'
    # Its release record and tenants' logs (bench-logs/RUN/; written when the launch ends, so a stall leaves none).
    if [ "$rc" != 1 ]; then
        for f in "$STATE"/bench-logs/*/release-mixed-* "$STATE"/bench-logs/*/mixed-*.log; do
            [ -f "$f" ] && tail -n 40 "$f" | sed "s|^|LAB-NOTE mixed $(basename "$f"): |"
        done
    fi
    check mixed-suite-exits-1 test "$rc" = 1
    check mixed-suite-stores-bench grep -q "^status=ok domain=lab-guest .* values=3$" <<<"$(row mixed bench)"
    check mixed-suite-records-one grep -q "'one' failed: .*no running domain holds it" "$WORK/mixed.txt"
    check mixed-suite-records-lab-vm grep -q "'lab-vm' failed: .*domain 'lab-vm' is not running" "$WORK/mixed.txt"
fi

# ---------------------------------------------------------------- reboot: Debian's systemd as PID 1, twice
# The guest (Tests/Lab/reboot-init) boots systemd with /etc/systemd/system, /etc/modules-load.d, /etc/libvirt/qemu,
# /etc/forbc and /var/lib/forbc on a persistent disk; this runs as the lab's unit (forbc-lab-reboot.service) on
# each boot. First boot: apply mtty partitions attached to an autostarted domain, 'forbc systemd install',
# reboot. Second boot: what systemd and forbc's units made of it.
if [ "$SCENARIO" = reboot ]; then
    M=/etc/forbc/host.yaml
    boots=$(cat /persist/lab/boots)
    VIRSH=(virsh -c qemu:///system)
    uptime_s() { cut -d' ' -f1 /proc/uptime; }
    present_mdevs() { ls /sys/bus/mdev/devices 2>/dev/null | sort | tr '\n' ' '; }
    show() { systemctl show -p "$2" --value "$1"; }
    echo "LAB-NOTE boot $boots: the scenario starts $(uptime_s) s after the kernel did"
    check "boot$boots-mtty-loaded-by-modules-load.d" test -d /sys/class/mdev_bus/mtty
    if [ "$boots" = 1 ]; then
        cat > "$M" <<YAML
apiVersion: forbc/v1
kind: Host
metadata: {name: lab}
spec:
  gpus:
    - select: {parent: mtty}
      vgpu:
        - {name: serial, type: mtty-1, count: 2}
  vms:
    - {domain: lab-vm, attach: [serial-0, serial-1], live: true}
YAML
        cat > "$WORK/vm.xml" <<XML
<domain type='qemu'>
  <name>lab-vm</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <controller type='pci' index='0' model='pcie-root'/>
    <controller type='pci' index='1' model='pcie-root-port'/>
    <controller type='pci' index='2' model='pcie-root-port'/>
  </devices>
</domain>
XML
        check define-domain "${VIRSH[@]}" define "$WORK/vm.xml"
        forbc apply "$M" --yes --no-bench --output json > "$WORK/apply.json" 2> "$WORK/apply.err"
        check apply-creates-and-attaches test $? = 0
        sed 's/^/LAB-NOTE apply: /' "$WORK/apply.err"
        # The UUIDs apply created (its report), without another forbc under TCG.
        planned=$(json "print(' '.join(sorted(a['uuid'] for a in d['done'] if a['action'] == 'create')))" \
            < "$WORK/apply.json")
        echo "$planned" > /persist/lab/uuids
        check created-the-planned-uuids test "$(present_mdevs)" = "$planned "
        inactive=$("${VIRSH[@]}" dumpxml --inactive lab-vm)
        held=yes
        for u in $planned; do grep -q "$u" <<<"$inactive" || held=no; done
        check persistent-definition-holds-them test "$held" = yes
        check domain-autostart "${VIRSH[@]}" autostart lab-vm
        forbc systemd install --manifest "$M" --drift-delay 1s > "$WORK/install.txt" 2>&1
        check systemd-install test $? = 0
        sed 's/^/LAB-NOTE install: /' "$WORK/install.txt"
        # The lab's unit powers the guest off when this ends (its ExecStopPost), and Tests/Lab/run boots it again.
        echo "LAB-NOTE boot 1 done $(uptime_s) s after the kernel started; powering off"
    else
        planned=$(cat /persist/lab/uuids)
        check same-uuids-after-reboot test "$(present_mdevs)" = "$planned "
        echo "LAB-NOTE boot 2: first checks $(uptime_s) s"
        check forbc-partitions-succeeded test "$(show forbc-partitions.service Result)" = success
        partitions=$(show forbc-partitions.service ActiveEnterTimestampMonotonic)
        modules=$(show systemd-modules-load.service ActiveEnterTimestampMonotonic)
        libvirtd=$(show libvirtd.service InactiveExitTimestampMonotonic)
        echo "LAB-NOTE boot 2 (µs of uptime): modules loaded $modules, partitions applied $partitions," \
            "libvirtd started $libvirtd"
        check partitions-after-modules-load test "$modules" -gt 0 -a "$modules" -le \
            "$(show forbc-partitions.service InactiveExitTimestampMonotonic)"
        check partitions-before-libvirtd test "$partitions" -gt 0 -a "$partitions" -le "$libvirtd"
        for _ in $(seq 1 60); do [ "$("${VIRSH[@]}" domstate lab-vm 2>/dev/null)" = running ] && break; sleep 1; done
        check domain-autostarted test "$("${VIRSH[@]}" domstate lab-vm 2>/dev/null)" = running
        live=$("${VIRSH[@]}" dumpxml lab-vm)
        held=yes
        for u in $planned; do grep -q "$u" <<<"$live" || held=no; done
        check domain-started-holding-them test "$held" = yes
        # The domain's QEMU process started after the partitions existed (its start time, in clock ticks of uptime).
        pid=$(cat /var/run/libvirt/qemu/lab-vm.pid 2>/dev/null)
        qemu=$(( $(awk '{print $22}' "/proc/$pid/stat" 2>/dev/null || echo 0) * 1000000 / $(getconf CLK_TCK) ))
        echo "LAB-NOTE lab-vm's QEMU started at $qemu µs of uptime"
        check partitions-before-the-domain-started test "$qemu" -gt "$partitions"
        # After a plain reboot the definitions already hold the partitions: the second unit has nothing to do.
        check forbc-apply-found-nothing-to-do grep -q "^No changes: host 'lab' already matches" \
            <<<"$(journalctl -b -u forbc-apply.service -o cat --no-pager 2>/dev/null)"
        apply_started=$(show forbc-apply.service InactiveExitTimestampMonotonic)
        check forbc-apply-after-libvirtd test "$(show forbc-apply.service Result)" = success -a \
            "$apply_started" -ge "$(show libvirtd.service ActiveEnterTimestampMonotonic)"
        PROM=/var/lib/prometheus/node-exporter/forbc.prom
        for _ in $(seq 1 120); do
            [ -s "$PROM" ] && [ "$(show forbc-drift.service Result)" = success ] && break
            sleep 1
        done
        echo "LAB-NOTE drift timer fired at $(show forbc-drift.timer LastTriggerUSecMonotonic) of uptime;" \
            "service exit" \
            "$(show forbc-drift.service ExecMainStatus); $(grep '^forbc_drift{' "$PROM" 2>/dev/null)"
        check drift-timer-ran test "$(show forbc-drift.service Result)" = success -a \
            "$(show forbc-drift.service ExecMainStatus)" = 0
        check drift-textfile-says-in-sync grep -q '^forbc_drift{.*} 0$' "$PROM"
        echo "LAB-NOTE boot 2: drift service checked $(uptime_s) s"
        check drift-in-sync forbc drift "$M"
        echo "LAB-NOTE boot 2: forbc drift checked $(uptime_s) s"
        failed_units=$(systemctl list-units --failed --plain --no-legend | awk '{print $1}' | tr '\n' ' ')
        echo "LAB-NOTE failed units: ${failed_units:-none}"
        # FORBC_LAB_CHAIN=1: what the unit waited for (systemd-analyze critical-chain took 96 s here under TCG).
        [ -n "${FORBC_LAB_CHAIN:-}" ] && systemd-analyze critical-chain --no-pager forbc-lab-reboot.service \
            | sed 's/^/LAB-NOTE chain: /'
        echo "LAB-NOTE boot 2 checked $(uptime_s) s after the kernel started; powering off"
        echo "LAB-END reboot"
    fi
fi
rm -rf "$STATE" "$WORK"
