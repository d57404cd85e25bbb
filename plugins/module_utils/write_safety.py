"""Write safety: may a workload write to this block device?

The one definition of the rule. The facts module computes it for every disk it lists and returns it as
``block_devices[].write_safety``; the fio_soak role and fleetfix's Python read that result and never judge it
again.

A write is safe only where it can destroy nothing that can be seen: no partitions, filesystem or holders, no
partition table (even a bare one), and first sectors that could be read and carry no signature. Unreadable
contents count as data. An operator may overrule the rule to overwrite a data disk, never the boot disk.
Standard library only, Python 3.8+ (it runs on the managed hosts).
"""

from __future__ import annotations


def write_safety(disk):
    """``{safe, overwritable, reasons}`` for one ``block_devices`` facts entry.

    ``safe``: a write destroys nothing. ``overwritable``: an explicit destructive request may still write
    (false only for the boot disk). ``reasons``: why it is not safe, each a clause about the disk.
    """
    reasons = ["it is the boot disk"] if disk.get("boot_disk") else []
    holds = []
    if disk.get("partitions"):
        holds.append(f"partitions {', '.join(disk['partitions'])}")
    if disk.get("fstype"):
        holds.append(f"a {disk['fstype']} filesystem")
    if disk.get("holders"):
        holds.append(f"holders {', '.join(disk['holders'])}")
    if disk.get("partition_table") and not disk.get("partitions"):
        holds.append(f"a {disk['partition_table']} partition table")
    if not holds and disk.get("has_data") is None:
        reasons.append("its contents could not be read")
    elif not holds and disk.get("has_data"):
        holds.append("data (a signature in its first sectors)")
    reasons.extend(f"it holds {what}" for what in holds)
    return {"safe": not reasons, "overwritable": not disk.get("boot_disk"), "reasons": reasons}
