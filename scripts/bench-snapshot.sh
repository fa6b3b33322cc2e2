#!/usr/bin/env bash
# Snapshot time of a mounted 1 GiB volume, as `berth snapshot create --wait` takes it (whole process, median of
# RUNS), for two data sets: many small files (FILES files of 1 GiB / FILES each, in 256 directories) and
# one 1 GiB file. Each is measured with reflinks allowed and with --no-reflink (read and write of every
# byte), on two fresh loop-mounted filesystems under BENCH_DIR: ext4 (no reflinks: both rows copy, with
# copy_file_range when allowed) and XFS made with reflink=1 (installs xfsprogs when missing); where loop
# devices are not allowed, the disk holding BENCH_DIR is used instead. The "method"
# column is what `berth snapshot describe` says happened; "paused" is how long writes were held; every file
# is touched (untimed) before each of those RUNS, so that each is a full snapshot; "incremental" is one more
# snapshot right after, with nothing changed (every file shared with the one before; "own bytes" is what
# it holds of its own);
# "restore" is `berth volume create --from-snapshot` of the last snapshot into another AZ: for the default
# BENCH_TYPE=fsx-openzfs that is a clone (hard links, files copied on first use), for ebs a restore (a
# copy that shares extents where it can).
# Then the longest write stall: a writer doing 4 KiB pwrite + fdatasync at random offsets of a 64 MiB
# file of a 2 GiB EBS volume (eight 256 MiB files of random data besides) on the ext4 store (no reflinks),
# while `berth snapshot create` runs; printed as the longest single write+fdatasync that overlapped the
# snapshot, beside the longest before it (the same writer with no snapshot running) and how long the
# snapshot took. Target: under 50 ms for any volume size. The control columns are the same writer beside a
# plain copy of the same 2 GiB with the copier's I/O pattern (1 MiB chunks, each fdatasynced) into the same
# ext4 store and no snapshot: the stall the disk itself gives a writer while that much is written beside
# it, which no copy-before-write snapshot can go below without reflinks. The ext4 image is made without
# lazy inode-table initialisation, whose background zeroing would otherwise stall the first runs.
# Figures, not assertions. Needs root, /dev/fuse, python3, jq.
# Environment: BENCH_DIR (default /work/.bench-snapshot), RUNS (default 3), FILES (default 16384),
# BENCH_TYPE (default fsx-openzfs; any type with snapshots), BENCH_PARTS (default "copy stall"; either
# alone), BENCH_IMAGE_DIR (where the loop-mounted images go, default BENCH_DIR; /dev/shm puts them in RAM,
# so that the disk's own fdatasync stalls drop out of the figures), STALL_DETAIL=1 (also print, on stderr, the five
# longest writes during each snapshot and when they began), BERTH_BIN (a berth binary to measure instead of this tree's release build, e.g. another
# branch's, to compare).
set -euo pipefail
cd "$(dirname "$0")/.."
SCRATCH="${SCRATCH:-$PWD/.build-fuse}"
BENCH_DIR="${BENCH_DIR:-/work/.bench-snapshot}"
RUNS="${RUNS:-3}"
FILES="${FILES:-16384}"
BENCH_TYPE="${BENCH_TYPE:-fsx-openzfs}"
BENCH_PARTS="${BENCH_PARTS:-copy stall}"
IMAGES="$BENCH_DIR/images"
[ -n "${BENCH_IMAGE_DIR:-}" ] && IMAGES="$BENCH_IMAGE_DIR/berth-bench-snapshot.$$"

if [ -n "${BERTH_BIN:-}" ]; then
    BERTH="$BERTH_BIN"
else
    swift build -c release --product berth --scratch-path "$SCRATCH" >/dev/null
    BERTH="$SCRATCH/release/berth"
fi

cleanup() {
    for m in "$BENCH_DIR"/*/mnt-*; do
        [ -d "$m" ] && mountpoint -q "$m" && { fusermount3 -u "$m" 2>/dev/null || umount -l "$m"; }
    done
    # (Mount servers exit once their mount is unmounted.)
    sleep 0.5
    for fs in ext4 xfs; do mountpoint -q "$BENCH_DIR/$fs" 2>/dev/null && umount "$BENCH_DIR/$fs"; done
    for fs in ext4 xfs; do
        losetup -j "$IMAGES/$fs.img" 2>/dev/null | cut -d: -f1 | xargs -r losetup -d 2>/dev/null || true
    done
    rm -rf "$IMAGES"
    rm -rf "$BENCH_DIR"
}
trap cleanup EXIT
cleanup
mkdir -p "$BENCH_DIR" "$IMAGES"

# Each store is a freshly made filesystem in a loop-mounted image, so that no earlier deletions slow
# its inode allocation (ext4 scans past recently deleted inodes) and the rows compare like with like.
stores=()
if ! command -v mkfs.xfs >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq xfsprogs >/dev/null 2>&1 || true
fi
make_store() {  # NAME MKFS...
    local name=$1; shift
    truncate -s 16G "$IMAGES/$name.img"
    mkdir -p "$BENCH_DIR/$name"
    if "$@" "$IMAGES/$name.img" >/dev/null 2>&1 && mount -o loop "$IMAGES/$name.img" "$BENCH_DIR/$name" 2>/dev/null; then
        stores+=("$name")
    else
        echo "note: cannot make a loop-mounted $name here; its rows are skipped" >&2
    fi
}
make_store ext4 mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0
case " $BENCH_PARTS " in *" copy "*) command -v mkfs.xfs >/dev/null && make_store xfs mkfs.xfs -q -f -m reflink=1 ;; esac
if [ ${#stores[@]} = 0 ]; then mkdir -p "$BENCH_DIR/disk"; stores=(disk); fi

now_ns() { date +%s%N; }

# populate KIND MOUNTPOINT: writes 1 GiB through the mount.
populate() {
    local kind=$1 mnt=$2
    if [ "$kind" = small ]; then
        python3 - "$mnt" "$FILES" <<'EOF'
import os, sys
root, files = sys.argv[1], int(sys.argv[2])
size = (1 << 30) // files
block = os.urandom(size)
for i in range(files):
    d = os.path.join(root, "d%03d" % (i % 256))
    if i < 256:
        os.mkdir(d)
    with open(os.path.join(d, "f%06d" % i), "wb") as f:
        f.write(block)
EOF
    else
        dd if=/dev/urandom of="$mnt/large.bin" bs=1M count=1024 status=none
    fi
    sync
}

copy_rows() {
echo "volumes: $BENCH_TYPE"
printf '%-6s %-22s %-12s %-8s %10s %10s %13s %10s %10s\n' store data requested method "seconds" "paused s" "incremental s" "own bytes" "restore s"
for store in "${stores[@]}"; do
    base="$BENCH_DIR/$store"
    state="$base/state"
    mkdir -p "$state"
    for kind in small large; do
        vol=$("$BERTH" volume create --type "$BENCH_TYPE" --az us-east-1a --size-gib 64 --state-dir "$state")
        mnt="$base/mnt-$kind"
        mkdir -p "$mnt"
        "$BERTH" mount "$vol" "$mnt" --az us-east-1a --background --state-dir "$state" >/dev/null
        populate "$kind" "$mnt"
        label=$([ "$kind" = small ] && echo "$FILES files x $(( (1 << 30) / FILES / 1024 )) KiB" || echo "one 1 GiB file")
        snaps=()
        for requested in reflink copy; do
            flag=$([ "$requested" = copy ] && echo --no-reflink || true)
            times=() paused=() method=""
            for _ in $(seq "$RUNS"); do
                # Every file changed (untimed), so that this snapshot shares nothing with the previous one.
                find "$mnt" -type f -exec touch {} +
                sync
                t0=$(now_ns)
                snap=$("$BERTH" snapshot create "$vol" $flag --wait --state-dir "$state")
                t1=$(now_ns)
                times+=("$(( (t1 - t0) / 1000000 ))")
                info=$("$BERTH" snapshot describe "$snap" --format json --state-dir "$state")
                method=$(jq -r .copyMethod <<<"$info")
                paused+=("$(jq -r .pausedSeconds <<<"$info")")
                snaps+=("$snap")
            done
            # One more with nothing changed since the last: incremental, every file shared with it.
            t0=$(now_ns)
            snap=$("$BERTH" snapshot create "$vol" $flag --wait --state-dir "$state")
            t1=$(now_ns)
            snaps+=("$snap")
            incremental_s=$(awk "BEGIN { print ($t1 - $t0) / 1e9 }")
            own=$("$BERTH" snapshot describe "$snap" --format json --state-dir "$state" | jq -r '.ownBytes // 0')
            # Restoring (for fsx-openzfs: cloning) the last snapshot into another AZ. Written-back first, so
            # that the state database's commit does not wait for the snapshots' dirty pages.
            sync
            t0=$(now_ns)
            restored=$("$BERTH" volume create --type "$BENCH_TYPE" --az us-east-1b --from-snapshot "$snap" --state-dir "$state")
            t1=$(now_ns)
            restore_s=$(awk "BEGIN { print ($t1 - $t0) / 1e9 }")
            "$BERTH" volume delete "$restored" --state-dir "$state" >/dev/null
            median_ms=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")
            median_paused=$(printf '%s\n' "${paused[@]}" | sort -g | sed -n "$(( (RUNS + 1) / 2 ))p")
            printf '%-6s %-22s %-12s %-8s %10.3f %10.3f %13.3f %10s %10.3f\n' "$store" "$label" "$requested" "$method" \
                "$(awk "BEGIN { print $median_ms / 1000 }")" "$median_paused" "$incremental_s" "$own" "$restore_s"
        done
        # Deleted only now: deleting between runs would slow the next run's file creation on ext4.
        for snap in "${snaps[@]}"; do "$BERTH" snapshot delete "$snap" --state-dir "$state" >/dev/null; done
        "$BERTH" unmount "$mnt" --state-dir "$state"
        "$BERTH" volume delete "$vol" --state-dir "$state" >/dev/null
    done
done
}

# writer_start: a 4 KiB pwrite + fdatasync loop at random offsets of $mnt/wal, each write's start and end
# recorded; writer_stop T0 T1: stops it 1 s after T1 and prints, of the writes that overlapped T0..T1, the
# longest (ms), the p99 (ms) and how many, then the longest and p99 of the 2 s of writes before T0.
writer_start() {
    rm -f "$base/stall-stop" "$base/stall-times"
    python3 - "$mnt/wal" "$base/stall-stop" "$base/stall-times" <<'EOF' &
import os, random, sys, time
path, stop, out = sys.argv[1:4]
fd = os.open(path, os.O_WRONLY)
blocks = os.fstat(fd).st_size // 4096
buf = os.urandom(4096)
rows = []
while not os.path.exists(stop):
    t = time.time()
    os.pwrite(fd, buf, random.randrange(blocks) * 4096)
    os.fdatasync(fd)
    rows.append((t, time.time()))
with open(out, "w") as f:
    for a, b in rows:
        f.write("%.6f %.6f\n" % (a, b))
EOF
    writer=$!
    sleep 2
}
writer_stop() {
    sleep 1
    touch "$base/stall-stop"
    wait "$writer"
    python3 - "$base/stall-times" "$1" "$2" <<'EOF'
import sys
path, t0, t1 = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
during, before = [], []
for line in open(path):
    a, b = map(float, line.split())
    (during if b >= t0 and a <= t1 else before if b < t0 else []).append((b - a) * 1000)
def p99(values):
    values = sorted(values)
    return values[int(len(values) * 0.99)] if values else 0.0
print("%.1f %.1f %d %.1f %.1f" % (max(during or [0]), p99(during), len(during), max(before or [0]), p99(before)))
import os
if os.environ.get("STALL_DETAIL"):
    rows = [(b - a, a) for a, b in (map(float, l.split()) for l in open(path)) if b >= t0 and a <= t1]
    for d, a in sorted(rows, reverse=True)[:5]:
        print("  stall %.1f ms starting %.3f s after the start (of %.3f s)" % (d * 1000, a - t0, t1 - t0), file=sys.stderr)
EOF
}

# The longest stall of a 4 KiB write + fdatasync loop while a 2 GiB volume is snapshotted (ext4 store).
stall_rows() {
    local store=${stores[0]} base state vol mnt snap
    base="$BENCH_DIR/$store"
    state="$base/state-stall"
    mkdir -p "$state"
    vol=$("$BERTH" volume create --type ebs --az us-east-1a --size-gib 4 --state-dir "$state")
    mnt="$base/mnt-stall"
    mkdir -p "$mnt"
    "$BERTH" mount "$vol" "$mnt" --az us-east-1a --background --state-dir "$state" >/dev/null
    for i in 0 1 2 3 4 5 6 7; do dd if=/dev/urandom of="$mnt/data$i.bin" bs=1M count=256 status=none; done
    dd if=/dev/urandom of="$mnt/wal" bs=1M count=64 status=none
    sync
    echo
    echo "write stall during a snapshot of a 2 GiB ebs volume ($store store, image in $IMAGES, 4 KiB pwrite + fdatasync at random offsets of a 64 MiB file; $(uptime | sed 's/.*load/load/'))"
    printf '%-4s %12s %10s %12s %10s %8s %12s %10s %14s %10s\n' run "snapshot s" "paused s" "longest ms" "p99 ms" writes \
        "before: max" "p99 ms" "control: max" "p99 ms"
    for run in $(seq "$RUNS"); do
        # The control first: the same writer beside a plain copy of the same 2 GiB with the copier's I/O
        # pattern (1 MiB chunks, each fdatasynced) into the same ext4 store, outside any volume and with no
        # snapshot: what the disk itself does to the writer's fdatasync while 2 GiB are written beside it.
        writer_start
        t0=$(date +%s.%N)
        python3 - "$base/control-copy" "$state/volumes/$vol/data"/data*.bin <<'EOF'
import os, sys
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for path in sys.argv[2:]:
    src = os.open(path, os.O_RDONLY)
    dst = os.open(os.path.join(out, os.path.basename(path)), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    while True:
        chunk = os.read(src, 1 << 20)
        if not chunk:
            break
        os.write(dst, chunk)
        os.fdatasync(dst)
    os.close(src); os.close(dst)
EOF
        t1=$(date +%s.%N)
        writer_stop "$t0" "$t1" > "$base/stall-result"  # not in $(…): wait needs this shell
        control=$(cut -d" " -f1,2 "$base/stall-result")
        rm -rf "$base/control-copy"
        sync

        writer_start
        t0=$(date +%s.%N)
        snap=$("$BERTH" snapshot create "$vol" --wait --state-dir "$state" 2>/dev/null)
        t1=$(date +%s.%N)
        writer_stop "$t0" "$t1" > "$base/stall-result"
        during=$(cat "$base/stall-result")
        paused=$("$BERTH" snapshot describe "$snap" --format json --state-dir "$state" | jq -r .pausedSeconds)
        # shellcheck disable=SC2086
        printf '%-4s %12.3f %10.3f %12s %10s %8s %12s %10s %14s %10s\n' "$run" \
            "$(awk "BEGIN { print $t1 - $t0 }")" "$paused" $during $control
        "$BERTH" snapshot delete "$snap" --state-dir "$state" >/dev/null
        sync
    done
    "$BERTH" unmount "$mnt" --state-dir "$state"
    "$BERTH" volume delete "$vol" --state-dir "$state" >/dev/null
}

case " $BENCH_PARTS " in *" copy "*) copy_rows ;; esac
case " $BENCH_PARTS " in *" stall "*) stall_rows ;; esac
