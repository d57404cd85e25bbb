"""Driver version order with rpm's rpmvercmp rules.

HBA driver versions are not PEP 440: ``10.02.09.100-k`` (qla2xxx), ``07.719.03.00-rh1`` (megaraid_sas),
``3.4.20-200-RH4`` (hpsa), ``1.2.1[50983]-custom`` (aacraid). PEP 440 rejects some and misreads others
(``-046`` would become a post-release, ``-rc1`` a pre-release), so ``packaging`` has no use here: none of
these strings is a Python package version. rpm's comparison is what distributions use for the packages that
carry these drivers (kmod-*, kABI driver disks), and it orders every real string above sensibly:

- the text splits into runs of ASCII digits and runs of ASCII letters; anything else separates runs;
- digit runs compare as integers (leading zeros ignored), letter runs as ASCII strings;
- a digit run is newer than a letter run at the same position;
- ``~`` sorts before anything, the end of the string included (``1.0~rc1 < 1.0``);
- ``^`` sorts after the end of the string but before any further run (``1.0 < 1.0^git1 < 1.0.1``);
- otherwise the string with runs left over is newer.

Each version is reduced once to a sort key (a tuple of ranked tokens) that reproduces those rules, so
comparisons after parsing are plain tuple comparisons.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import total_ordering

from fleetfix.errors import InputError

# Token ranks at one position: tilde < end of string < caret < letters < digits.
_TILDE, _END, _CARET, _ALPHA, _DIGITS = range(5)
_TOKEN = re.compile(r"[0-9]+|[A-Za-z]+|~|\^")
_END_TOKEN = (_END, 0)
MAX_VERSION_LENGTH = 128  # rpm's EVR strings in the wild stay far below this

# What ``uname -r`` appends after the version proper: machine (".x86_64", "-amd64") and an optional
# "+debug"-style variant. Stripped so x86_64 and aarch64 builds of one release compare equal.
_KERNEL_MACHINE = re.compile(
    r"(?:[.-](?:x86_64|aarch64|ppc64le|ppc64|s390x|i686|amd64|arm64|armmp|686-pae|686))?(?:\+\w+)?$"
)

SortKey = tuple[tuple[int, int | str | tuple[int, str]], ...]


def _number(digits: str) -> tuple[int, str]:
    """A run of digits in numeric order without converting it: a longer number (leading zeros aside) is
    larger, equal lengths compare as text. int() refuses runs of thousands of digits."""
    significant = digits.lstrip("0")
    return (len(significant), significant)


def sort_key(text: str) -> SortKey:
    """The rpmvercmp order of ``text`` as a tuple; equal keys mean rpmvercmp returns 0."""
    tokens: list[tuple[int, int | str | tuple[int, str]]] = []
    for token in _TOKEN.findall(text):
        if token == "~":
            tokens.append((_TILDE, 0))
        elif token == "^":
            tokens.append((_CARET, 0))
        elif token[0].isdigit():
            tokens.append((_DIGITS, _number(token)))
        else:
            tokens.append((_ALPHA, token))
    tokens.append(_END_TOKEN)
    return tuple(tokens)


def compare(a: str, b: str) -> int:
    """rpmvercmp: negative if ``a`` is older than ``b``, zero if they rank equal, positive if newer."""
    key_a, key_b = sort_key(a), sort_key(b)
    return (key_a > key_b) - (key_a < key_b)


@total_ordering
@dataclass(frozen=True, eq=False, slots=True)
class DriverVersion:
    """A version string ordered by rpmvercmp; keeps the original text for display.

    Equality and hashing follow the order, so ``10.0001`` and ``10.1`` are one version (as in rpm).
    """

    text: str
    key: SortKey = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", sort_key(self.text))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DriverVersion):
            return NotImplemented
        return self.key == other.key

    def __lt__(self, other: DriverVersion) -> bool:
        if not isinstance(other, DriverVersion):
            return NotImplemented
        return self.key < other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __str__(self) -> str:
        return self.text


def parse_version(
    text: str, source: str = "<version>", line: int | None = None, field: str | None = None
) -> DriverVersion:
    """A ``DriverVersion`` from user input; empty or whitespace-bearing text is an ``InputError``."""
    if not isinstance(text, str) or not text:
        raise InputError(source, "empty version", line=line, field=field)
    if any(char.isspace() for char in text):
        raise InputError(source, f"version {text!r} contains whitespace", line=line, field=field)
    if len(text) > MAX_VERSION_LENGTH:
        shown = f"{text[:20]}...({len(text)} characters)"
        raise InputError(
            source, f"version {shown} is longer than {MAX_VERSION_LENGTH}", line=line, field=field
        )
    if not _TOKEN.search(text):
        raise InputError(source, f"version {text!r} has no digits or letters", line=line, field=field)
    return DriverVersion(text)


def kernel_version(release: str) -> DriverVersion:
    """A kernel release (``uname -r``) as an rpmvercmp-ordered version, machine suffix removed.

    rpmvercmp suits kernel releases too: ``5.14.0-70.13.1.el9_0.x86_64`` < ``5.14.0-162.6.1.el9_1.x86_64``,
    ``4.18.0-305.el8`` < ``4.18.0-305.3.1.el8``, ``6.1.0-18-amd64`` < ``6.1.0-21-amd64``, and the upstream
    part orders first (``5.15.0-91-generic`` < ``6.1.0-18-amd64``). Note that Debian's release names the
    ABI (``6.1.0-18``), not the upstream stable release it was built from (``6.1.76``): a stable-kernel
    range in an advisory compares against the ABI version for such kernels.
    """
    stripped = _KERNEL_MACHINE.sub("", release, count=1)
    return DriverVersion(stripped or release)


def compare_kernels(a: str, b: str) -> int:
    """Order two kernel releases (see ``kernel_version``): negative, zero or positive."""
    key_a, key_b = kernel_version(a).key, kernel_version(b).key
    return (key_a > key_b) - (key_a < key_b)


# --- distribution package versions ------------------------------------------------------------------------
#
# Distribution data (Debian's and Ubuntu's trackers, Red Hat's errata, the OSV records built from them) name
# the kernel's *source package* version, compared with the distribution's own rules. Both are reduced to
# tuple sort keys, like driver versions above.

_DPKG_VERSION = re.compile(
    r"(?:(?P<epoch>[0-9]+):)?(?P<upstream>[0-9][A-Za-z0-9.+~:-]*?)(?:-(?P<revision>[A-Za-z0-9.+~]+))?"
)
_DPKG_SEGMENT = re.compile(r"([^0-9]*)([0-9]*)")
_DPKG_END_SEGMENT: tuple[tuple[int, ...], int] = ((0,), 0)


def _dpkg_order(char: str) -> int:
    """dpkg's character weight: ``~`` before the end of a part, the end before letters, letters before
    anything else (``+``, ``.``, ``-``, ``:``)."""
    if char == "~":
        return -1
    if char.isascii() and char.isalpha():
        return ord(char)
    return ord(char) + 256


def _dpkg_part_key(text: str) -> tuple[tuple[tuple[int, ...], int], ...]:
    """dpkg's verrevcmp as a key: alternating non-digit runs (weighed char by char, ``0`` marking their end)
    and digit runs (as integers, empty as 0). A final end segment makes "no more runs" compare like dpkg:
    below a run starting with a letter or ``.``, above one starting with ``~``."""
    segments = []
    for letters, digits in _DPKG_SEGMENT.findall(text):
        if not letters and not digits:
            continue
        segments.append(((*(_dpkg_order(c) for c in letters), 0), int(digits or 0)))
    while segments and segments[-1] == _DPKG_END_SEGMENT:
        segments.pop()
    segments.append(_DPKG_END_SEGMENT)
    return tuple(segments)


@total_ordering
@dataclass(frozen=True, eq=False, slots=True)
class DpkgVersion:
    """A Debian package version ``[epoch:]upstream[-revision]``, ordered as ``dpkg --compare-versions``."""

    text: str
    key: tuple[object, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        match = _DPKG_VERSION.fullmatch(self.text)
        if match is None:
            raise ValueError(f"{self.text!r} is not a Debian package version ([epoch:]upstream[-revision])")
        key = (
            int(match["epoch"] or 0),
            _dpkg_part_key(match["upstream"]),
            _dpkg_part_key(match["revision"] or ""),
        )
        object.__setattr__(self, "key", key)

    def __eq__(self, other: object) -> bool:
        return self.key == other.key if isinstance(other, DpkgVersion) else NotImplemented

    def __lt__(self, other: DpkgVersion) -> bool:
        return self.key < other.key if isinstance(other, DpkgVersion) else NotImplemented

    def __hash__(self) -> int:
        return hash(self.key)

    def __str__(self) -> str:
        return self.text


def dpkg_compare(a: str, b: str) -> int:
    """``dpkg --compare-versions``: negative if ``a`` is older than ``b``, zero if equal, else positive."""
    key_a, key_b = DpkgVersion(a).key, DpkgVersion(b).key
    return (key_a > key_b) - (key_a < key_b)


_RPM_EVR = re.compile(r"(?:(?P<epoch>[0-9]+):)?(?P<version>[^\s:-]+)(?:-(?P<release>[^\s:-]+))?")


@total_ordering
@dataclass(frozen=True, eq=False, slots=True)
class RpmVersion:
    """An rpm ``[epoch:]version[-release]``, ordered as rpm orders packages of one name: epoch (absent is 0),
    then version, then release, each by rpmvercmp. A missing release compares equal to any release, as in
    rpm's dependency ranges (``kernel >= 5.14.0`` holds for every 5.14.0 build)."""

    text: str
    epoch: int = field(init=False, repr=False)
    version: SortKey = field(init=False, repr=False)
    release: SortKey | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        match = _RPM_EVR.fullmatch(self.text)
        if match is None:
            raise ValueError(f"{self.text!r} is not an rpm version ([epoch:]version[-release])")
        object.__setattr__(self, "epoch", int(match["epoch"] or 0))
        object.__setattr__(self, "version", sort_key(match["version"]))
        object.__setattr__(self, "release", sort_key(match["release"]) if match["release"] else None)

    def _compare(self, other: RpmVersion) -> int:
        for mine, theirs in ((self.epoch, other.epoch), (self.version, other.version)):
            if mine != theirs:
                return -1 if mine < theirs else 1
        if self.release is None or other.release is None or self.release == other.release:
            return 0
        return -1 if self.release < other.release else 1

    def __eq__(self, other: object) -> bool:
        return self._compare(other) == 0 if isinstance(other, RpmVersion) else NotImplemented

    def __lt__(self, other: RpmVersion) -> bool:
        return self._compare(other) < 0 if isinstance(other, RpmVersion) else NotImplemented

    def __hash__(self) -> int:
        return hash((self.epoch, self.version))

    def __str__(self) -> str:
        return self.text


def rpm_compare(a: str, b: str) -> int:
    """rpm's EVR order of two ``[epoch:]version[-release]`` strings: negative, zero or positive."""
    return RpmVersion(a)._compare(RpmVersion(b))


PackageVersion = DpkgVersion | RpmVersion

# How each distribution orders its package versions, by the name that opens its ecosystem key ("Debian:12").
ECOSYSTEM_SCHEMES = {
    "Debian": "dpkg",
    "Ubuntu": "dpkg",
    "Red Hat": "rpm",
    "Rocky Linux": "rpm",
    "AlmaLinux": "rpm",
    "CentOS": "rpm",
    "Oracle Linux": "rpm",
}


def package_version(scheme: str, text: str) -> PackageVersion:
    """A package version ordered by ``scheme`` ("dpkg" or "rpm"); ValueError when it is not one."""
    return DpkgVersion(text) if scheme == "dpkg" else RpmVersion(text)
