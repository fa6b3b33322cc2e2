#!/usr/bin/env bash
# Snapshots under an appender whose writes the kernel splits: a writer appends RECORD-byte records (no
# fsync) after a 100-byte header to a file of a mounted ebs volume as fast as it can. A write that starts
# inside a page the kernel does not hold whole and crosses into the next reaches the server as two WRITE
# requests: with the default RECORD=4096 every record does, with RECORD=76 one in 54. Meanwhile SNAPSHOTS
# snapshots are taken (`snapshot create --wait`, then deleted). Prints how many snapshots hold a torn
# record (a log whose length past the header is not a whole number of records). Emulator contract: no
# torn file (docs/SEMANTICS.md, §Snapshots).
# Needs root and /dev/fuse. BERTH_BIN (default .build/debug/berth), SNAPSHOTS (default 40), RECORD.
set -euo pipefail
BERTH_BIN="${BERTH_BIN:-$(dirname "$0")/../.build/debug/berth}"
SNAPSHOTS="${SNAPSHOTS:-40}"
RECORD="${RECORD:-4096}"
scratch=$(mktemp -d /tmp/berth-split-writes.XXXXXX)
export BERTH_STATE_DIR="$scratch/state"
mkdir -p "$scratch/mount"
cleanup() {
    if [ -n "${writer:-}" ]; then kill "$writer" 2>/dev/null || true; wait "$writer" 2>/dev/null || true; fi
    # Only once the mount is gone: the state directory must not be deleted under a live mount.
    if "$BERTH_BIN" unmount "$scratch/mount" >/dev/null; then rm -rf "$scratch"; else echo "left $scratch mounted" >&2; fi
}
trap cleanup EXIT
volume=$("$BERTH_BIN" volume create --type ebs --az us-east-1a --size-gib 1 | tail -1)
"$BERTH_BIN" mount "$volume" "$scratch/mount" --az us-east-1a --background >/dev/null
python3 - "$scratch/mount/log" "$RECORD" <<'PY' &
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
os.write(fd, b"h" * 99 + b"\n")
record = b"x" * (int(sys.argv[2]) - 1) + b"\n"
while os.fstat(fd).st_size < 500_000_000:
    os.write(fd, record)
PY
writer=$!
sleep 0.5
torn=0
for _ in $(seq 1 "$SNAPSHOTS"); do
    snapshot=$("$BERTH_BIN" snapshot create "$volume" --wait | tail -1)
    size=$(stat -c %s "$BERTH_STATE_DIR/snapshots/$snapshot/data/log")
    [ $(((size - 100) % RECORD)) -eq 0 ] || torn=$((torn + 1))
    "$BERTH_BIN" snapshot delete "$snapshot" >/dev/null
done
echo "record: $RECORD bytes  snapshots: $SNAPSHOTS  with a torn record: $torn"
