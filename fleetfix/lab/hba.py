"""Real facts about the HBA drivers the lab presents: PCI identity, module dependencies, hot functions.

The function names are the drivers' real interrupt and I/O completion paths, used for call traces in the
oopses the lab prints.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Hba:
    vendor: int
    device: int
    deps: tuple[str, ...]
    description: str
    io_path: tuple[str, ...]  # innermost first: the frames a completion-path fault shows


_KNOWN = {
    "mpt3sas": Hba(
        0x1000,
        0x0097,
        ("raid_class", "scsi_transport_sas"),
        "LSI MPT Fusion SAS 3.0 Device Driver",
        ("_scsih_io_done+0x4c/0x720", "_base_process_reply_queue+0x1b1/0x5d0", "_base_interrupt+0x26/0x40"),
    ),
    "megaraid_sas": Hba(
        0x1000,
        0x005D,
        (),
        "Broadcom MegaRAID SAS Driver",
        (
            "megasas_complete_cmd_dpc_fusion+0x2f/0x80",
            "complete_cmd_fusion+0x1a4/0x5f0",
            "megasas_isr_fusion+0x3c/0x170",
        ),
    ),
    "qla2xxx": Hba(
        0x1077,
        0x2261,
        ("nvme_fc", "scsi_transport_fc"),
        "QLogic Fibre Channel HBA Driver",
        (
            "qla2x00_process_completed_request+0x5e/0x210",
            "qla24xx_process_response_queue+0x2d3/0xa90",
            "qla24xx_msix_rsp_q+0x49/0xc0",
        ),
    ),
    "smartpqi": Hba(
        0x9005,
        0x028F,
        ("scsi_transport_sas",),
        "Driver for Microchip Smart Family Controller",
        ("pqi_process_io_intr+0x93/0x2d0", "pqi_irq_handler+0x67/0x110"),
    ),
    "lpfc": Hba(
        0x10DF,
        0xF100,
        ("nvmet_fc", "nvme_fc", "scsi_transport_fc"),
        "Emulex LightPulse Fibre Channel SCSI driver",
        (
            "lpfc_sli4_fcp_xri_aborted+0x7d/0x210",
            "lpfc_sli4_process_eq+0xb2/0x1f0",
            "lpfc_sli4_hba_intr_handler+0x8f/0x190",
        ),
    ),
}
_GENERIC = Hba(0x1000, 0x0001, (), "SCSI host adapter driver", ("queuecommand+0x31/0x1a0",))
# Dependency modules are in-tree and carry no devices of their own.
IN_TREE_PATHS = {
    "raid_class": "drivers/scsi/raid_class.ko",
    "scsi_transport_sas": "drivers/scsi/scsi_transport_sas.ko",
    "scsi_transport_fc": "drivers/scsi/scsi_transport_fc.ko",
    "nvme_fc": "drivers/nvme/host/nvme-fc.ko",
    "nvmet_fc": "drivers/nvme/target/nvmet-fc.ko",
    "netconsole": "drivers/net/netconsole.ko",
}


def hba(module: str) -> Hba:
    return _KNOWN.get(module, _GENERIC)


def in_tree_path(module: str) -> str:
    return IN_TREE_PATHS.get(module, f"drivers/scsi/{module}/{module}.ko")
