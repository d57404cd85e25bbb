#!/usr/bin/env bash
# Re-create the fio JSON outputs in this folder with the real fio on this machine (see README.md).
# Run from the repository root: bash tests/data/fio/regenerate.sh
set -euo pipefail
out=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /var/tmp/fleetfix-fio.XXXXXX)
trap 'rm -rf "$work"' EXIT
truncate -s 256M "$work/disk.img"   # sparse; O_DIRECT needs a filesystem that supports it (not tmpfs)
truncate -s 1M "$work/zeros.img"
common=(--filename="$work/disk.img" --bs=4k --ioengine=libaio --direct=1 --output-format=json)

fio --name=randread-libaio "${common[@]}" --rw=randread --iodepth=16 --time_based --runtime=2 \
    --output="$out/randread_libaio.json"
fio --name=randread-gtod-reduce "${common[@]}" --rw=randread --iodepth=16 --gtod_reduce=1 --time_based \
    --runtime=2 --output="$out/randread_gtod_reduce.json"
fio --name=randread-two-jobs "${common[@]}" --rw=randread --iodepth=8 --numjobs=2 --time_based --runtime=2 \
    --output="$out/randread_numjobs2.json"
# A missing file under --readonly: fio cannot create it, the job fails with error 2 (ENOENT) and fio
# writes its error lines into the output file before the JSON.
fio --name=missing-file --readonly --filename="$work/absent.img" --size=1M --rw=randread --bs=4k \
    --ioengine=libaio --direct=1 --output-format=json --output="$out/missing_file_readonly.json" || true
# Verifying data that was never written: the job fails with error 84 (EILSEQ).
fio --name=verify-unwritten --filename="$work/zeros.img" --rw=read --bs=4k --verify=crc32c --verify_only=1 \
    --ioengine=libaio --direct=1 --output-format=json --output="$out/verify_failure.json" || true
# The built-in "thrash" profile exactly as fleetfix builds its command line.
mapfile -t thrash < <(.venv/bin/python -c "
import sys
from fleetfix.soak import BUILTIN_PROFILES
print('\n'.join(BUILTIN_PROFILES['thrash'].to_args([sys.argv[1]], 2, sys.argv[2])))
" "$work/disk.img" "$out/thrash_profile.json")
fio "${thrash[@]}"
fio --version
