"""``--batch`` and ``--max-failures``: a count of hosts, given as N or N% of the targeted hosts."""

from __future__ import annotations

import re
from dataclasses import dataclass

from fleetfix.errors import InputError

_COUNT = re.compile(r"([0-9]{1,9})(%?)")  # a billion hosts is plenty; int() refuses 4300+ digits


@dataclass(frozen=True)
class Count:
    """``--batch`` / ``--max-failures``: a number of hosts, or a percentage of the targeted hosts."""

    value: int
    percent: bool

    def of(self, total: int) -> int:
        """Hosts this stands for: a percentage rounds down, as Ansible's ``serial`` does, but never to 0."""
        return max(1, total * self.value // 100) if self.percent else self.value

    def __str__(self) -> str:
        return f"{self.value}{'%' if self.percent else ''}"


ONE_HOST = Count(1, False)


def parse_count(text: str, option: str) -> Count:
    match = _COUNT.fullmatch(text.strip())
    if not match:
        raise InputError(option, f"{text!r} is not a number of hosts N or a percentage N%")
    count = Count(int(match[1]), bool(match[2]))
    if count.value < 1 or (count.percent and count.value > 100):
        raise InputError(option, f"{text!r} must be at least 1{' and at most 100%' if count.percent else ''}")
    return count
