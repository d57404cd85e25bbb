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
