"""Which HBA modules a kernel vulnerability touches, from its text: the commit subject the kernel CNA and the
distributions quote (``scsi: mpt3sas: ...``), and the source files named in it (``drivers/scsi/lpfc/...``).

    >>> touched("In the Linux kernel, the following vulnerability has been resolved: scsi: mpt3sas: Fix")
    ('mpt3sas',)
    >>> touched("BUG: KASAN: slab-out-of-bounds in qla2x00_mem_free+0x30 drivers/scsi/qla2xxx/qla_os.c:4713")
    ('qla2xxx',)
    >>> touched("scsi: core: Fix a use-after-free")
    ()

Each hit is a ``Touch``: the module, the line it was found on (an erratum lists many CVEs, one per line, and
the line says which of them concerns the module) and the subject that names it, when one does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Storage host-bus adapter drivers under drivers/scsi, by module name (what /proc/modules shows).
HBA_MODULES = frozenset(
    {
        "aacraid",
        "arcmsr",
        "bfa",
        "bnx2fc",
        "csiostor",
        "esas2r",
        "fnic",
        "hisi_sas_main",
        "hpsa",
        "isci",
        "lpfc",
        "megaraid_mbox",
        "megaraid_mm",
        "megaraid_sas",
        "mpi3mr",
        "mpt3sas",
        "mvsas",
        "mvumi",
        "pm80xx",
        "qedf",
        "qedi",
        "qla2xxx",
        "qla4xxx",
        "smartpqi",
        "snic",
    }
)
# Subject prefixes and source directories that differ from the module's name.
_ALIASES = {"pm8001": "pm80xx", "pm80xx": "pm80xx", "hisi_sas": "hisi_sas_main", "bfa": "bfa"}
_MEGARAID_FILES = ("megaraid_sas", "megaraid_mbox", "megaraid_mm")  # drivers/scsi/megaraid/ holds three

# "scsi: mpt3sas:" anywhere (the CNA's subject, an erratum's "kernel: scsi: lpfc: ..."), or a line opening
# with the bare driver prefix ("mpt3sas: fix ...", as older subjects were written).
_SUBJECT = re.compile(
    r"\bscsi:\s+(?P<prefix>[a-z0-9_]+):\s|^[\s*-]*(?:kernel:\s*)?(?!scsi:)(?P<bare>[a-z0-9_]+):\s", re.M
)
_LONGEST_SUBJECT = 100  # kernel commit subjects keep to about 75 characters
_SENTENCE_START = re.compile(r"(?<=[a-z0-9)\]])\s+(?=[A-Z][a-z]+\s)")
# A word said twice in a row: a subject ending in a function name met by a body opening with it
# ("... before calling lpfc_worker_wake_up() lpfc_worker_wake_up() calls ..."). No subject stutters.
_REPEATED_WORD = re.compile(r"(?<=\s)(?P<word>\S{4,})(?P<seam>\s+)(?P=word)(?=\s|$)")
_PATH = re.compile(r"\bdrivers/scsi/(?P<name>[a-z0-9_]+)(?P<rest>/[a-z0-9_]+|\.[ch]\b)")


@dataclass(frozen=True, slots=True)
class Touch:
    module: str
    line: str  # the text's line holding the hit, stripped
    subject: str | None  # the commit subject from the module prefix on, when a subject names the module


def module_of(prefix: str) -> str | None:
    """The HBA module a subject prefix or source directory names, else None."""
    name = _ALIASES.get(prefix, prefix)
    return name if name in HBA_MODULES else None


def touches(text: str) -> list[Touch]:
    """Every mention of an HBA module in ``text``, in order: subjects first within a line, then paths."""
    found: list[Touch] = []
    for match in _SUBJECT.finditer(text):
        module = module_of(match.group("prefix") or match.group("bare"))
        if module is not None:
            start = match.start() if match.group("prefix") else match.start("bare")
            found.append(Touch(module, _line_at(text, start), _subject(text, start)))
    for match in _PATH.finditer(text):
        module = _path_module(match.group("name"), match.group("rest"))
        if module is not None:
            found.append(Touch(module, _line_at(text, match.start()), None))
    return found


def touched(text: str) -> tuple[str, ...]:
    """The HBA modules ``text`` names, each once, in order of first mention."""
    return tuple(dict.fromkeys(touch.module for touch in touches(text)))


def _path_module(name: str, rest: str) -> str | None:
    if name == "megaraid":
        file = rest.lstrip("/")
        return next((module for module in _MEGARAID_FILES if file.startswith(module)), None)
    return module_of(name)


def _line_at(text: str, position: int) -> str:
    start = text.rfind("\n", 0, position) + 1
    end = text.find("\n", position)
    return text[start : len(text) if end < 0 else end].strip()


def _subject(text: str, start: int) -> str:
    """The subject from ``start`` to the end of its line, without a trailing ``(CVE-...)``.

    Ubuntu's and Debian's records join the commit message into one line, so a "line" longer than any
    subject is cut where the body starts: a capitalised word after the subject's own first word
    (``... non-allocated memory There is a potential ...``), or the subject's last word said again
    (``... calling lpfc_worker_wake_up() lpfc_worker_wake_up() calls ...``), whichever comes first.
    """
    end = text.find("\n", start)
    subject = text[start : len(text) if end < 0 else end].strip()
    subject = re.sub(r"\s*\(CVE-\d{4}-\d+\)\s*$", "", subject)
    if len(subject) > _LONGEST_SUBJECT:
        prefixes = re.match(r"(?:[\w./-]+:\s+)*\S+\s", subject)
        after = prefixes.end() if prefixes else 0
        sentence = _SENTENCE_START.search(subject, after)
        repeated = _REPEATED_WORD.search(subject, after)
        seams = ([sentence.start()] if sentence else []) + ([repeated.start("seam")] if repeated else [])
        if seams:
            subject = subject[: min(seams)]
    return subject
