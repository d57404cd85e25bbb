"""Plans and hosts for the planning tests: a small advisory database, quick step times, a host as audited."""

from __future__ import annotations

from datetime import timedelta

from fleetfix.advisories.database import AdvisoryDB
from fleetfix.audit import DriverView, Finding, HostAudit
from fleetfix.plan.times import StepTimes

ADVISORIES = """
- id: T-mpt3sas-reply-race
  module: mpt3sas
  vendor: Broadcom
  title: reply queue race under deep random reads
  affected:
    driver:
      - {introduced: "40.00.00.00", fixed: "46.00.00.00"}
  fixed_in: "46.00.00.00"
  fault: [race, null_deref]
  trigger: {description: deep random reads, rw: [randread], min_iodepth: 32}
  severity: critical
  references: [https://example.org/mpt3sas-race]
- id: T-mpt3sas-bad-build
  module: mpt3sas
  vendor: Broadcom
  title: a vendor rebuild that kept its version string
  affected:
    srcversions: [7A0C2E4F6B8D1A3C5E7F9B2]
  fault: [panic]
  trigger: any I/O
  severity: high
  references: [https://example.org/mpt3sas-build]
- id: T-qla-listed
  module: qla2xxx
  vendor: Marvell
  title: listed bad release
  affected:
    driver:
      - {versions: ["10.02.08.200-k"]}
  fixed_in: "10.02.09.100-k"
  fault: [hang]
  trigger: fabric logout storm
  severity: high
  references: [https://example.org/qla]
- id: T-lpfc-kernel
  module: lpfc
  vendor: Broadcom
  title: fixed in stable kernels only
  affected:
    kernel:
      - {introduced: "6.1.0", fixed: "6.1.90"}
  fault: [oops]
  trigger: link bounce
  severity: medium
  references: [https://example.org/lpfc]
"""


QUICK = StepTimes(
    precheck=timedelta(minutes=1),
    upgrade=timedelta(minutes=4),
    reload=timedelta(minutes=1),
    reboot=timedelta(minutes=8),
    verify=timedelta(minutes=1),
    soak_runtime=timedelta(minutes=5),
    soak_margin=timedelta(minutes=1),
    baseline_runtime=timedelta(minutes=1),
)


def host(
    db: AdvisoryDB,
    name: str,
    version: str | None = "43.00.00.00",
    module: str = "mpt3sas",
    disks: tuple[str, ...] = (),
    srcversion: str | None = None,
    kernel: str = "6.1.0-18-amd64",
    taint: tuple[str, ...] = ("O", "E"),
) -> HostAudit:
    """A host as the audit reports it: the findings come from the same database, as audit.py does."""
    findings = tuple(
        Finding(
            advisory=m.advisory.id,
            module=module,
            version=version,
            fixed_in=str(m.advisory.fixed_in) if m.advisory.fixed_in else None,
            severity=m.advisory.severity,
            fault=m.advisory.fault,
            trigger=m.advisory.trigger.description,
            why=m.why,
            references=m.advisory.references,
        )
        for m in db.match(module, version, srcversion, None if "O" in taint else kernel)
    )
    # Each disk given is open (mounted or in use), so it holds a reference on the driver.
    driver = DriverView(
        name=module, version=version, srcversion=srcversion, taint=taint, disks=disks, refcount=len(disks)
    )
    return HostAudit(
        host=name,
        status="ok",
        message="",
        kernel=kernel,
        module_support=True,
        drivers=(driver,),
        findings=findings,
    )
