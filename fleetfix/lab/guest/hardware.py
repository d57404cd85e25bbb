"""The host's HBAs and disks as sysfs shows them on a real server: PCI function -> SCSI host -> target ->
device -> block device, with the PCI function's ``driver`` link naming the HBA module."""

from __future__ import annotations

_PCI_IDS = {
    "mpt3sas": (0x1000, 0x0097),
    "megaraid_sas": (0x1000, 0x005D),
    "qla2xxx": (0x1077, 0x2261),
    "smartpqi": (0x9005, 0x028F),
    "lpfc": (0x10DF, 0xF100),
}
_VENDOR_MODEL = {
    "mpt3sas": ("SEAGATE ", "ST4000NM0025    "),
    "megaraid_sas": ("DELL    ", "PERC H730P Mini "),
    "qla2xxx": ("NETAPP  ", "LUN C-Mode      "),
    "smartpqi": ("HPE     ", "LOGICAL VOLUME  "),
}


def sysfs_tree(controllers: list[dict]) -> dict[str, str | None]:
    """Paths under /sys -> file content, None for a directory, or "->target" for a symlink."""
    tree: dict[str, str | None] = {"bus/scsi/drivers/sd": None}
    for index, ctl in enumerate(controllers):
        driver, pci, host_no = ctl["driver"], ctl["pci"], ctl["host_no"]
        bridge = f"0000:80:{index + 1:02x}.0"
        base = f"devices/pci0000:80/{bridge}/{pci}"
        vendor, device = _PCI_IDS.get(driver, (0x1000, 0x0001))
        tree |= {
            f"{base}/vendor": f"0x{vendor:04x}\n",
            f"{base}/device": f"0x{device:04x}\n",
            f"{base}/class": "0x010700\n",
            f"{base}/driver": f"->../../../../bus/pci/drivers/{driver}",
            f"{base}/subsystem": "->../../../../bus/pci",
            f"bus/pci/drivers/{driver}/{pci}": f"->../../../../devices/pci0000:80/{bridge}/{pci}",
            f"bus/pci/drivers/{driver}/module": f"->../../../../module/{driver}",
            f"bus/pci/devices/{pci}": f"->../../../devices/pci0000:80/{bridge}/{pci}",
            f"{base}/host{host_no}/scsi_host/host{host_no}/proc_name": f"{driver}\n",
            f"class/scsi_host/host{host_no}": f"->../../{base}/host{host_no}/scsi_host/host{host_no}",
        }
        vendor_name, model = _VENDOR_MODEL.get(driver, ("ATA     ", "VIRTUAL DISK    "))
        for target, disk in enumerate(ctl["disks"]):
            sdev = f"{host_no}:0:{target}:0"
            tdir = f"{base}/host{host_no}/target{host_no}:0:{target}/{sdev}"
            bdir = f"{tdir}/block/{disk['name']}"
            tree |= {
                f"{tdir}/vendor": f"{vendor_name}\n",
                f"{tdir}/model": f"{model}\n",
                f"{tdir}/state": "running\n",
                f"{tdir}/driver": "->" + "../" * 7 + "bus/scsi/drivers/sd",
                f"{bdir}/size": f"{disk['size_bytes'] // 512}\n",
                f"{bdir}/dev": f"{disk['major']}:{disk['minor']}\n",
                f"{bdir}/ro": "0\n",
                f"{bdir}/removable": "0\n",
                f"{bdir}/queue/rotational": f"{int(disk['rotational'])}\n",
                f"{bdir}/queue/logical_block_size": "512\n",
                f"{bdir}/queue/hw_sector_size": "512\n",
                f"{bdir}/device": f"->../../../{sdev}",
                f"block/{disk['name']}": f"->../{bdir}",
                f"class/block/{disk['name']}": f"->../../{bdir}",
            }
    return tree
