"""`advisories import-osv` on a zip dump shaped like OSV's all.zip: peak RSS stays flat as the zip grows.

The dump holds the real records of tests/data/osv repeated under new ids: 20 HBA records (Ubuntu's
mpt3sas one), the rest kernel records touching no HBA module, as in a real kernel dump where nearly all are
skipped, so what is kept stays the same size while the dump grows. Each
size runs in a fresh process, which imports the dump as the CLI does and reports CPU seconds and peak RSS
above its own baseline; the floor is the same process decoding every member with ``json.loads`` and dropping
it. Prints, per size, the import's CPU and RSS as ratios to the floor's: flat RSS ratios across sizes mean
memory follows one record plus what is kept, not the dump.

    .venv/bin/python bench/osv_import.py [--records 2000 8000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from fleetfix.advisories.osv.modules import touched

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "osv"
HBA_RECORDS = 20


def build(records: int, path: Path) -> None:
    samples = [json.loads(p.read_bytes()) for p in sorted(DATA.rglob("*.json"))]
    hba = [s for s in samples if s["id"].startswith("UBUNTU-")]
    others = [s for s in samples if not touched(f"{s.get('summary', '')}\n{s.get('details', '')}")]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for number in range(records):
            record = dict(hba[0] if number < HBA_RECORDS else others[number % len(others)])
            prefix = "UBUNTU-" if record["id"].startswith("UBUNTU-") else ""
            record["id"] = f"{prefix}CVE-2099-{number + 10000}"
            archive.writestr(f"{record['id']}.json", json.dumps(record))


def _peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child(path: Path, mode: str) -> None:
    baseline = _peak()
    start = time.process_time()
    if mode == "import":
        from fleetfix.commands.import_osv import import_paths

        with open("/dev/null", "w") as sink:
            stdout, sys.stdout = sys.stdout, sink
            try:
                result = import_paths([path], None)
            finally:
                sys.stdout = stdout
        kept = len(result.advisories)
    else:
        with zipfile.ZipFile(path) as archive:
            for member in archive.infolist():
                json.loads(archive.read(member))
        kept = 0
    print(json.dumps({"cpu": time.process_time() - start, "rss": _peak() - baseline, "kept": kept}))


def measure(path: Path, mode: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(path)], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, nargs="+", default=[2000, 8000])
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[1]), args.child[0])
        return
    with tempfile.TemporaryDirectory() as tmp:
        for records in args.records:
            path = Path(tmp) / f"all-{records}.zip"
            build(records, path)
            floor, run = measure(path, "floor"), measure(path, "import")
            print(
                f"{records:>7} records, zip {path.stat().st_size / 1e6:.1f} MB, {run['kept']:.0f} kept: "
                f"CPU {run['cpu']:.2f} s ({run['cpu'] / max(floor['cpu'], 1e-3):.1f}x floor), "
                f"peak RSS +{run['rss'] / 2**20:.1f} MiB (floor +{floor['rss'] / 2**20:.1f} MiB)"
            )


if __name__ == "__main__":
    main()
