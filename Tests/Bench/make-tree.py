#!/usr/bin/env python3
"""Writes a fake sysfs tree in the kernel's layout for the speed benchmark (Tests/Bench/speed.sh).

    make-tree.py DIR GPUS MDEVS_PER_GPU

DIR/sys gets GPUS A40-class GPUs (NVIDIA 0x2235, 29 vGPU mdev types each) with MDEVS_PER_GPU mediated devices
each, laid out as the kernel lays them out:
  /sys/devices/pci0000:00/0000:00:0N.0/0000:XX:00.0/   the GPU (class, vendor, device, ..., mdev_supported_types/)
  .../0000:XX:00.0/UUID/                               each mdev (mdev_type -> ../mdev_supported_types/T, ...)
  .../mdev_supported_types/T/devices/UUID              -> ../../../UUID
  /sys/bus/pci/devices/0000:XX:00.0                    -> ../../../devices/pci0000:00/...
  /sys/class/mdev_bus/0000:XX:00.0                     -> ../../devices/pci0000:00/...
  /sys/bus/mdev/devices/UUID                           -> ../../../devices/pci0000:00/.../UUID
Every link is relative, as the kernel's are, so the tree reads the same at DIR/sys and bind-mounted over /sys.
"""

import os
import sys
import uuid

# The A40's vGPU types (NVIDIA vGPU 16): B, Q, A and C series; (suffix, framebuffer GiB, max instances).
SERIES = [("B", [1, 2]), ("Q", [1, 2, 3, 4, 6, 8, 12, 16, 24, 48]), ("A", [1, 2, 3, 4, 6, 8, 12, 16, 24, 48]),
          ("C", [4, 6, 8, 12, 16, 24, 48])]


def types():
    """The 29 (id, name, framebuffer GiB, max instances) of an A40."""
    out = []
    number = 555
    for series, sizes in SERIES:
        for gib in sizes:
            out.append((f"nvidia-{number}", f"NVIDIA A40-{gib}{series}", gib, 48 // gib))
            number += 1
    return out


def write(path, text):
    with open(path, "w") as handle:
        handle.write(text)


def link(path, target):
    os.symlink(target, path)


def gpu(sys_dir, index, mdevs, rng):
    """One GPU below its root port, its types and `mdevs` mdevs of its first Q type (the rest unused)."""
    port = f"0000:00:{index + 1:02x}.0"
    address = f"0000:{0x10 + index * 0x10:02x}:00.0"
    rel = f"devices/pci0000:00/{port}/{address}"
    device = os.path.join(sys_dir, rel)
    os.makedirs(device)
    for name, value in [("class", "0x030200"), ("vendor", "0x10de"), ("device", "0x2235"),
                        ("subsystem_vendor", "0x10de"), ("subsystem_device", "0x145a"),
                        ("numa_node", str(index % 2)), ("enable", "1"), ("irq", str(100 + index)),
                        ("uevent", f"DRIVER=nvidia\nPCI_CLASS=30200\nPCI_ID=10DE:2235\n"
                                   f"PCI_SUBSYS_ID=10DE:145A\nPCI_SLOT_NAME={address}\n")]:
        write(os.path.join(device, name), value + "\n")
    link(os.path.join(device, "driver"), "../../../../bus/pci/drivers/nvidia")
    group = 10 + index
    os.makedirs(os.path.join(sys_dir, f"kernel/iommu_groups/{group}/devices"), exist_ok=True)
    link(os.path.join(device, "iommu_group"), f"../../../../kernel/iommu_groups/{group}")
    link(os.path.join(sys_dir, f"kernel/iommu_groups/{group}/devices", address), f"../../../../{rel}")
    link(os.path.join(sys_dir, "bus/pci/devices", address), f"../../../{rel}")
    link(os.path.join(sys_dir, "bus/pci/drivers/nvidia", address), f"../../../../{rel}")
    link(os.path.join(sys_dir, "class/mdev_bus", address), f"../../{rel}")
    used = types()[2]  # A40-1Q
    for type_id, name, gib, max_instances in types():
        directory = os.path.join(device, "mdev_supported_types", type_id)
        os.makedirs(os.path.join(directory, "devices"))
        available = max(max_instances - mdevs, 0) if type_id == used[0] else (0 if mdevs else max_instances)
        write(os.path.join(directory, "name"), name + "\n")
        write(os.path.join(directory, "description"),
              f"num_heads=4, frl_config=60, framebuffer={gib * 1024}M, max_resolution=7680x4320, "
              f"max_instance={max_instances}\n")
        write(os.path.join(directory, "available_instances"), f"{available}\n")
        write(os.path.join(directory, "device_api"), "vfio-pci\n")
        write(os.path.join(directory, "create"), "")
    for _ in range(mdevs):
        name = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        mdev = os.path.join(device, name)
        os.makedirs(os.path.join(mdev, "power"))
        link(os.path.join(mdev, "mdev_type"), f"../mdev_supported_types/{used[0]}")
        link(os.path.join(mdev, "subsystem"), "../../../../../bus/mdev")
        link(os.path.join(mdev, "driver"), "../../../../../bus/mdev/drivers/vfio_mdev")
        link(os.path.join(mdev, "iommu_group"), f"../../../../../kernel/iommu_groups/{200 + index}")
        write(os.path.join(mdev, "remove"), "")
        write(os.path.join(mdev, "uevent"), "DRIVER=vfio_mdev\nMDEV_TYPE=" + used[0] + "\n")
        link(os.path.join(device, "mdev_supported_types", used[0], "devices", name), f"../../../{name}")
        link(os.path.join(sys_dir, "bus/mdev/devices", name), f"../../../{rel}/{name}")


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: make-tree.py DIR GPUS MDEVS_PER_GPU")
    root, gpus, mdevs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    sys_dir = os.path.join(root, "sys")
    if os.path.exists(sys_dir):
        sys.exit(f"make-tree.py: {sys_dir} exists already")
    for directory in ["bus/pci/devices", "bus/pci/drivers/nvidia", "bus/mdev/devices", "bus/mdev/drivers/vfio_mdev",
                      "class/mdev_bus", "kernel/iommu_groups"]:
        os.makedirs(os.path.join(sys_dir, directory))
    import random
    rng = random.Random(1400 + gpus * 1000 + mdevs)
    for index in range(gpus):
        gpu(sys_dir, index, mdevs, rng)
    for index in range(gpus):
        os.makedirs(os.path.join(sys_dir, f"kernel/iommu_groups/{200 + index}/devices"), exist_ok=True)


if __name__ == "__main__":
    main()
