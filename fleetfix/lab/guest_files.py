"""Installing the lab's in-host code into a host's /usr layer: the guest package, the stand-in tools, and
the uname preload library (built once per lab with the system C compiler)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from fleetfix.errors import EnvironmentProblem
from fleetfix.lab.guest import dispatch

GUEST_DIR = "usr/lib/fleetfix-lab"
PRELOAD = f"{GUEST_DIR}/libfleetfix-uname.so"
_SOURCE = Path(__file__).resolve().parent


def entry_script() -> str:
    return (
        "#!/usr/bin/python3 -IS\n"
        f'import sys\nsys.path.insert(0, "/{GUEST_DIR}")\n'
        "from fleetfix_guest.dispatch import main\nsys.exit(main())\n"
    )


def build_preload(cache_dir: Path) -> Path:
    source = _SOURCE / "uname_preload.c"
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:12]
    target = cache_dir / f"libfleetfix-uname-{digest}.so"
    if not target.is_file():
        cache_dir.mkdir(parents=True, exist_ok=True)
        compiler = shutil.which("cc") or shutil.which("gcc")
        if compiler is None:
            raise EnvironmentProblem("fleetfix lab needs a C compiler (apt-get install gcc libc6-dev)")
        result = subprocess.run(
            [compiler, "-shared", "-fPIC", "-O2", "-o", str(target), str(source)],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise EnvironmentProblem(f"building the uname preload library failed: {result.stderr.strip()}")
    return target


def install(usr_upper_root: Path, preload: Path, family: str, multipath: bool = False) -> None:
    """Copy guest code, stand-ins and preload into the host's upper layer (``usr_upper_root`` holds usr/);
    ``family`` (debian, el) picks the initramfs tools, ``multipath`` adds multipath-tools' commands."""
    guest = usr_upper_root / GUEST_DIR / "fleetfix_guest"
    guest.mkdir(parents=True, exist_ok=True)
    for source in (_SOURCE / "guest").glob("*.py"):
        shutil.copyfile(source, guest / source.name)
    script = entry_script()
    tools = dispatch.INSTALLED | dispatch.INSTALLED_BY_FAMILY[family]
    for rel in tools | (dispatch.MULTIPATH_TOOLS if multipath else set()):
        target = usr_upper_root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(script)
        target.chmod(0o755)
    shutil.copyfile(preload, usr_upper_root / PRELOAD)
