"""Hypothesis strategies for hostile input: shell metacharacters, quotes, newlines, control and bidi
characters, command substitutions that would leave a mark if they ever ran."""

from __future__ import annotations

from hypothesis import strategies as st

CANARY = "fleetfix-canary"  # a command substitution that runs creates this file in the working directory

SHELL_FRAGMENTS = (
    f"$(touch {CANARY})",
    f"`touch {CANARY}`",
    f"${{x:=$(touch {CANARY})}}",
    f"'; touch {CANARY}; '",
    f'"; touch {CANARY}; "',
    f"\ntouch {CANARY}\n",
    f"|touch {CANARY}",
    f"&& touch {CANARY}",
    "\\",
    "'",
    '"',
    "$",
    "${",
    "$((",
    "#",
    "*",
    "~",
    "\n",
    "\r",
    "\t",
    " ",
    "-",
    "=",
    ",",
    ":",
    "@",
    "/",
    "..",
    "\u202e",
    "\x1b[2J",
    "\x07",
)

# Any character a str can carry into a file: everything but NUL (which no file format here can hold)
# and lone surrogates (not encodable).
_ANY_CHAR = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")


def hostile_text(max_parts: int = 8) -> st.SearchStrategy[str]:
    """Text mixing shell fragments with arbitrary characters; sometimes a plausible value around them."""
    part = st.one_of(st.sampled_from(SHELL_FRAGMENTS), st.text(_ANY_CHAR, max_size=6))
    prefix = st.sampled_from(("", "/var/crash", "root@dump", "nfs:/export", "eth0", "256M"))
    return st.builds(lambda p, parts: p + "".join(parts), prefix, st.lists(part, max_size=max_parts))
