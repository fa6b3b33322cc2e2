#!/usr/bin/env bash
# Berth's FUSE mount against bindfs and the native directory, side by side on the same backing store:
# fio (psync; 1 MiB sequential write and read of a 512 MiB file; 4 KiB random read IOPS) and a
# metadata test (create + stat + unlink of 5,000 files), plus Berth's mount start-up time (spawn until
# the mountpoint answers). Figures, not assertions: compare them as ratios within one run.
# All three live on one tmpfs, so the figures compare the layers, not the disk: on ext4, a metadata run
# right after another one pays for ext4's scan past recently deleted inodes (ialloc.c recently_deleted),
# which would favour whichever filesystem runs first.
# BENCH_TMPFS=0 puts them in directories on the disk holding BENCH_DIR instead (where a user's state
# directory lives) and makes every fio job one pass from cold caches: all caches are dropped before
# each job. Looping over the file as on tmpfs would be unfair there: fio drops the file's cached pages
# before each pass, which sends the native directory back to the disk while Berth's server still
# finds its backing file in memory.
# Needs root, /dev/fuse, fio, bindfs, python3. Environment: BENCH_DIR (default /work/.bench-mount),
# RUNTIME (seconds per fio job, default 4; on disk only the random reads stop after it), SIZE (default 512M on tmpfs,
# 2G on disk), FILES (default 5000), META_ROUNDS (metadata passes per filesystem, median reported;
# default 3), FIO_ROUNDS (passes of the three fio jobs over every filesystem, median reported; default 3),
# PASSTHROUGH_HP (a passthrough_hp binary from libfuse's examples, built outside this
# repository from the libfuse release that matches the system's, e.g. fuse-3.14.0 with
# `meson setup build -Dutils=false -Dtests=false && ninja -C build example/passthrough_hp`: when set, it
# is a column too, with its default caching and splice).
set -euo pipefail
cd "$(dirname "$0")/.."
SCRATCH="${SCRATCH:-$PWD/.build-fuse}"
BENCH_DIR="${BENCH_DIR:-/work/.bench-mount}"
RUNTIME="${RUNTIME:-4}"
BENCH_TMPFS="${BENCH_TMPFS:-1}"
if [ "$BENCH_TMPFS" = 1 ]; then SIZE="${SIZE:-512M}"; else SIZE="${SIZE:-2G}"; fi
FILES="${FILES:-5000}"
META_ROUNDS="${META_ROUNDS:-3}"
FIO_ROUNDS="${FIO_ROUNDS:-3}"

swift build -c release --product berth --scratch-path "$SCRATCH" >/dev/null
BERTH="$SCRATCH/release/berth"

rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR"
if [ "$BENCH_TMPFS" = 1 ]; then mount -t tmpfs -o size=3G berth-bench "$BENCH_DIR"; fi
mkdir -p "$BENCH_DIR"/{native,berth-back,berth-mnt,ebs-back,ebs-mnt,ebs-state,win-back,win-mnt,win-state,bindfs-back,bindfs-mnt,state,php-back,php-mnt}
PASSTHROUGH_HP="${PASSTHROUGH_HP:-}"
OTHERS=(bindfs)
[ -n "$PASSTHROUGH_HP" ] && [ -x "$PASSTHROUGH_HP" ] && OTHERS+=(php)
PIDS=()
cleanup() {
    for m in "$BENCH_DIR/berth-mnt" "$BENCH_DIR/ebs-mnt" "$BENCH_DIR/win-mnt" "$BENCH_DIR/bindfs-mnt" "$BENCH_DIR/php-mnt"; do
        mountpoint -q "$m" && { fusermount3 -u "$m" 2>/dev/null || umount -l "$m"; }
    done
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
    sleep 0.2
    mountpoint -q "$BENCH_DIR" && umount "$BENCH_DIR"
    rm -rf "$BENCH_DIR"
}
trap cleanup EXIT

now_ns() { date +%s%N; }

# Mount start-up: spawn -> the mountpoint answers statfs as a FUSE mount of type fuse.berth-efs.
startup_total=0
RUNS=5
for _ in $(seq $RUNS); do
    t0=$(now_ns)
    "$BERTH" _serve-mount --backing "$BENCH_DIR/berth-back" --mountpoint "$BENCH_DIR/berth-mnt" \
        --volume-id fs-bench --type efs --shared-state "$BENCH_DIR/state" &
    pid=$!
    until grep -qs " $BENCH_DIR/berth-mnt fuse.berth-efs " /proc/mounts; do sleep 0.002; done
    stat -f "$BENCH_DIR/berth-mnt" >/dev/null  # answered by the server once the FUSE handshake is done
    t1=$(now_ns)
    startup_total=$((startup_total + (t1 - t0)))
    kill -TERM "$pid"; wait "$pid"
done
startup_ms=$(awk "BEGIN { printf \"%.0f\", $startup_total / $RUNS / 1000000 }")

"$BERTH" _serve-mount --backing "$BENCH_DIR/berth-back" --mountpoint "$BENCH_DIR/berth-mnt" \
    --volume-id fs-bench --type efs --shared-state "$BENCH_DIR/state" &
PIDS+=($!)
# The same server with the exclusive cache policy (EBS: one attachment, long kernel cache timeouts).
"$BERTH" _serve-mount --backing "$BENCH_DIR/ebs-back" --mountpoint "$BENCH_DIR/ebs-mnt" \
    --volume-id vol-bench --type ebs --shared-state "$BENCH_DIR/ebs-state" &
PIDS+=($!)
# FSx for Windows: the shared policy plus Windows names (refusals, case-insensitive lookups and creates).
"$BERTH" _serve-mount --backing "$BENCH_DIR/win-back" --mountpoint "$BENCH_DIR/win-mnt" \
    --volume-id fs-win --type fsx-windows --shared-state "$BENCH_DIR/win-state" &
PIDS+=($!)
bindfs "$BENCH_DIR/bindfs-back" "$BENCH_DIR/bindfs-mnt"
if [[ " ${OTHERS[*]} " == *" php "* ]]; then
    "$PASSTHROUGH_HP" --foreground "$BENCH_DIR/php-back" "$BENCH_DIR/php-mnt" >/dev/null 2>&1 &
    PIDS+=($!)
fi
MOUNTS=(berth-mnt ebs-mnt win-mnt)
[[ " ${OTHERS[*]} " == *" php "* ]] && MOUNTS+=(php-mnt)
for m in "${MOUNTS[@]}"; do
    for _ in $(seq 200); do grep -q " $BENCH_DIR/$m " /proc/mounts && break; sleep 0.01; done
done

fio_figure() { # dir rw bs -> MiB/s (or IOPS for randread)
    local dir=$1 rw=$2 bs=$3 field
    local out passes=(--time_based) runtime=$RUNTIME
    if [ "$BENCH_TMPFS" != 1 ]; then
        # Sequential jobs finish their one pass (up to a minute); random reads stop after RUNTIME.
        passes=()
        [ "$rw" = randread ] || runtime=60
        sync
        echo 3 >/proc/sys/vm/drop_caches
    fi
    out=$(fio --name=b --directory="$dir" --filename=fio.dat --ioengine=psync --rw="$rw" --bs="$bs" \
        --size="$SIZE" --runtime="$runtime" "${passes[@]}" --end_fsync=$([ "$rw" = write ] && echo 1 || echo 0) \
        --output-format=json 2>/dev/null)
    if [ "$rw" = write ]; then field=write; else field=read; fi
    if [ "$rw" = randread ]; then
        python3 -c "import json,sys; print(round(json.load(sys.stdin)['jobs'][0]['$field']['iops']))" <<<"$out"
    else
        python3 -c "import json,sys; print(round(json.load(sys.stdin)['jobs'][0]['$field']['bw_bytes']/1048576))" <<<"$out"
    fi
}

metadata_figure() { # dir -> create+stat+unlink ops/s (3 ops per file)
    python3 - "$1" "$FILES" <<'EOF'
import os, sys, time
d, n = sys.argv[1], int(sys.argv[2])
os.makedirs(d + "/meta", exist_ok=True)
t = time.perf_counter()
for i in range(n):
    os.close(os.open(f"{d}/meta/f{i}", os.O_CREAT | os.O_WRONLY, 0o644))
for i in range(n):
    os.stat(f"{d}/meta/f{i}")
for i in range(n):
    os.unlink(f"{d}/meta/f{i}")
print(round(3 * n / (time.perf_counter() - t)))
EOF
}

dir_of() {
    case $1 in
        ebs) echo "$BENCH_DIR/ebs-mnt" ;;
        win) echo "$BENCH_DIR/win-mnt" ;;
        native) echo "$BENCH_DIR/native" ;;
        berth) echo "$BENCH_DIR/berth-mnt" ;;
        bindfs) echo "$BENCH_DIR/bindfs-mnt" ;;
        php) echo "$BENCH_DIR/php-mnt" ;;
    esac
}

median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# fio: FIO_ROUNDS rounds, each over every filesystem in turn (starting one further along each round),
# and the median per filesystem: where a filesystem's jobs fall in a run moves its figures by 10% or
# more here (SEMANTICS.md, *Performance*). The file is removed after each filesystem's jobs, and the
# removal made durable with an fsync of the directory, so that Berth's power-loss journal lets it go.
FSES=(native berth ebs win "${OTHERS[@]}")
declare -A R FIO
for round in $(seq 0 $((FIO_ROUNDS - 1))); do
    for k in $(seq 0 $((${#FSES[@]} - 1))); do
        fs=${FSES[$(((k + round) % ${#FSES[@]}))]}
        dir=$(dir_of "$fs")
        FIO[$fs,w]+="$(fio_figure "$dir" write 1M) "
        FIO[$fs,r]+="$(fio_figure "$dir" read 1M) "
        FIO[$fs,rr]+="$(fio_figure "$dir" randread 4k) "
        rm -f "$dir/fio.dat"
        python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.fsync(fd)' "$dir"
    done
done
for fs in "${FSES[@]}"; do
    for job in w r rr; do R[$fs,$job]=$(median <<<"${FIO[$fs,$job]}"); done
done

# Metadata: META_ROUNDS rounds, each over every filesystem in turn (starting one further along each
# round), and the median per filesystem: one pass swings by 15% on a 2-vCPU machine.
declare -A META
for round in $(seq 0 $((META_ROUNDS - 1))); do
    for k in $(seq 0 $((${#FSES[@]} - 1))); do
        fs=${FSES[$(((k + round) % ${#FSES[@]}))]}
        META[$fs]+="$(metadata_figure "$(dir_of "$fs")") "
    done
done
for fs in "${FSES[@]}"; do
    R[$fs,m]=$(median <<<"${META[$fs]}")
done

if [ "$BENCH_TMPFS" = 1 ]; then
    printf '\nAll on tmpfs; fio jobs loop over a %s file for %s s each; medians of %s rounds.\n' "$SIZE" "$RUNTIME" "$FIO_ROUNDS"
else
    printf '\nAll on %s (disk); each fio job is one pass over a %s file from cold caches.\n' \
        "$(stat -f -c %T "$BENCH_DIR/native")" "$SIZE"
fi
printf '%-22s %14s %14s %16s %16s\n' "filesystem" "seq write MiB/s" "seq read MiB/s" "4k rand read IOPS" "metadata ops/s"
for fs in native berth ebs win "${OTHERS[@]}"; do
    name=$fs
    [ $fs = ebs ] && name="berth ebs (FUSE)"
    [ $fs = win ] && name="berth fsx-windows"
    [ $fs = native ] && name="native ($(stat -f -c %T "$BENCH_DIR/native"))"
    [ $fs = berth ] && name="berth efs (FUSE)"
    [ $fs = bindfs ] && name="bindfs $(bindfs --version 2>/dev/null | awk '{print $2}' | head -1)"
    [ $fs = php ] && name="passthrough_hp"
    printf '%-22s %14s %14s %16s %16s\n' "$name" "${R[$fs,w]}" "${R[$fs,r]}" "${R[$fs,rr]}" "${R[$fs,m]}"
done
printf '%-22s %14s %14s\n' "berth / native" \
    "$(awk "BEGIN { printf \"%.2f\", ${R[berth,w]} / ${R[native,w]} }")" \
    "$(awk "BEGIN { printf \"%.2f\", ${R[berth,r]} / ${R[native,r]} }")"
printf '%-22s %14s %14s %16s %16s\n' "fsx-windows / efs" "" "" "" \
    "$(awk "BEGIN { printf \"%.2f\", ${R[win,m]} / ${R[berth,m]} }")"
printf '\nEvery pass (fio: write / read / random read; metadata), in order of rounds:\n'
for fs in "${FSES[@]}"; do
    printf '%-8s w[%s] r[%s] rr[%s] m[%s]\n' "$fs" "${FIO[$fs,w]% }" "${FIO[$fs,r]% }" "${FIO[$fs,rr]% }" "${META[$fs]% }"
done
printf '\nberth mount start-up (spawn -> mountpoint answers), mean of %d: %s ms\n' "$RUNS" "$startup_ms"
