#!/usr/bin/env bash
# Real applications on Berth's emulated mounts against the native directory, interleaved: PostgreSQL
# (`pgbench -i -s 10` time, then `pgbench -c 4 -j 2 -T 30` TPS), git (add + commit of 2,000 small files,
# then `git gc`) and SQLite (`synchronous=FULL`, inserts in transactions). Each round runs every
# application on every filesystem in turn, starting one further along each round; medians are printed
# with the ratio to native and the load average at the start and end. Figures, not assertions.
#
# Native and both Berth backing directories live on one tmpfs (BENCH_TMPFS=1, the default), so the
# figures compare the layers, not a disk: fsync there costs nothing natively, which is the hardest case
# for a FUSE mount (every fsync is a round trip). BENCH_TMPFS=0 puts them on the disk holding BENCH_DIR.
# Berth mounts: ebs (exclusive cache policy, capacity enforced: --capacity-bytes) and efs (shared policy,
# elastic), served by `berth _serve-mount` from a release build, as scripts/bench-mount.sh does.
#
# Needs root and /dev/fuse. Installs what it needs for itself if missing (benchmark only, never in
# .ci/run): Debian's postgresql, git, sqlite3. PostgreSQL runs from initdb + pg_ctl as the postgres user
# on a data directory on the filesystem measured, never as the system service.
# Environment: BENCH_DIR (default /work/.bench-apps), ROUNDS (default 3), PG_SECONDS (pgbench -T, default
# 30), PG_SCALE (default 10), GIT_FILES (default 2000), SQLITE_TXNS (transactions, default 300, 10 rows
# each), APPS (default "pg git sqlite"), FSES (default "native ebs efs"), COUNT_REQUESTS=1 (also count FUSE
# requests per opcode with `perf record -e fuse:fuse_request_send` for one extra run of each application
# on each Berth mount; not timed), STRACE=1 (also `strace -c -f` the server during that extra run).
set -euo pipefail
cd "$(dirname "$0")/.."
SCRATCH="${SCRATCH:-$PWD/.build-fuse}"
BENCH_DIR="${BENCH_DIR:-/work/.bench-apps}"
BENCH_TMPFS="${BENCH_TMPFS:-1}"
ROUNDS="${ROUNDS:-3}"
PG_SECONDS="${PG_SECONDS:-30}"
PG_SCALE="${PG_SCALE:-10}"
GIT_FILES="${GIT_FILES:-2000}"
SQLITE_TXNS="${SQLITE_TXNS:-300}"
APPS="${APPS:-pg git sqlite}"
FSES="${FSES:-native ebs efs}"
COUNT_REQUESTS="${COUNT_REQUESTS:-0}"
STRACE="${STRACE:-0}"
PG_PORT="${PG_PORT:-54329}"

[ "$(id -u)" = 0 ] || { echo "bench-apps.sh: needs root (FUSE mounts, the postgres user)" >&2; exit 1; }

# Benchmark-only packages, installed here and nowhere else.
pg_bin=""
find_pg() { pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true); }
find_pg
missing=()
[ -n "$pg_bin" ] && [ -x "$pg_bin/initdb" ] && command -v pgbench >/dev/null || missing+=(postgresql postgresql-contrib)
command -v git >/dev/null || missing+=(git)
command -v sqlite3 >/dev/null || missing+=(sqlite3)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} (benchmark only)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null \
        || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null; }
    find_pg
fi
# Debian's package starts its own cluster; this script never uses it (it has its own port and data dir).
PGBENCH=$(command -v pgbench)

swift build -c release --product berth --scratch-path "$SCRATCH" >/dev/null
BERTH="$SCRATCH/release/berth"

PIDS=()
declare -A SERVER
cleanup() {
    set +e
    for fs in $FSES; do
        [ -f "$BENCH_DIR/$fs/pg/postmaster.pid" ] && runuser -u postgres -- "$pg_bin/pg_ctl" -D "$BENCH_DIR/$fs/pg" -m immediate stop >/dev/null 2>&1
    done
    for m in ebs efs; do
        mountpoint -q "$BENCH_DIR/$m" && { fusermount3 -u "$BENCH_DIR/$m" 2>/dev/null || umount -l "$BENCH_DIR/$m"; }
    done
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
    sleep 0.3
    mountpoint -q "$BENCH_DIR" && umount "$BENCH_DIR"
    rm -rf "$BENCH_DIR"
}
trap cleanup EXIT
cleanup
mkdir -p "$BENCH_DIR"
if [ "$BENCH_TMPFS" = 1 ]; then mount -t tmpfs -o size=6G berth-bench-apps "$BENCH_DIR"; fi
mkdir -p "$BENCH_DIR"/{native,ebs,efs,ebs-back,efs-back,ebs-state,efs-state,sock}
chmod 755 "$BENCH_DIR"
chown postgres "$BENCH_DIR/sock"

"$BERTH" _serve-mount --backing "$BENCH_DIR/ebs-back" --mountpoint "$BENCH_DIR/ebs" --volume-id vol-apps \
    --type ebs --capacity-bytes $((5 << 30)) --shared-state "$BENCH_DIR/ebs-state" &
PIDS+=($!); SERVER[ebs]=$!
"$BERTH" _serve-mount --backing "$BENCH_DIR/efs-back" --mountpoint "$BENCH_DIR/efs" --volume-id fs-apps \
    --type efs --shared-state "$BENCH_DIR/efs-state" &
PIDS+=($!); SERVER[efs]=$!
for m in ebs efs; do
    for _ in $(seq 500); do grep -q " $BENCH_DIR/$m fuse" /proc/mounts && break; sleep 0.01; done
    grep -q " $BENCH_DIR/$m fuse" /proc/mounts || { echo "bench-apps.sh: $m did not mount" >&2; exit 1; }
    stat -f "$BENCH_DIR/$m" >/dev/null
done

now_ns() { date +%s%N; }
secs() { awk "BEGIN { printf \"%.3f\", ($2 - $1) / 1e9 }"; }
as_pg() { runuser -u postgres -- "$@"; }

# Each application leaves its figures as "key=value" lines on stdout and cleans up after itself.
run_pg() { # dir
    local d=$1/pg t0 t1 init tps
    mkdir -p "$d" && chown postgres "$d" && chmod 700 "$d"
    as_pg "$pg_bin/initdb" -D "$d" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null
    as_pg "$pg_bin/pg_ctl" -D "$d" -w -l "$BENCH_DIR/sock/pg.log" \
        -o "-p $PG_PORT -k $BENCH_DIR/sock -c listen_addresses='' -c shared_buffers=128MB" start >/dev/null
    as_pg psql -q -h "$BENCH_DIR/sock" -p "$PG_PORT" -d postgres -c 'CREATE DATABASE bench' >/dev/null
    t0=$(now_ns)
    as_pg "$PGBENCH" -q -h "$BENCH_DIR/sock" -p "$PG_PORT" -i -s "$PG_SCALE" bench >/dev/null 2>&1
    t1=$(now_ns)
    init=$(secs "$t0" "$t1")
    tps=$(as_pg "$PGBENCH" -h "$BENCH_DIR/sock" -p "$PG_PORT" -c 4 -j 2 -T "$PG_SECONDS" bench 2>/dev/null \
        | awk '/^tps = / { printf "%.0f", $3 }')
    as_pg "$pg_bin/pg_ctl" -D "$d" -m fast -w stop >/dev/null
    rm -rf "$d" "$BENCH_DIR/sock/pg.log"
    echo "pg_init=$init"
    echo "pg_tps=$tps"
}

run_git() { # dir
    local d=$1/git t0 t1 t2 i
    mkdir -p "$d/src"
    # 2,000 files of about 100 bytes in 20 directories (untimed).
    for i in $(seq 0 $((GIT_FILES - 1))); do
        [ $((i % 100)) = 0 ] && mkdir -p "$d/src/d$((i / 100))"
        printf 'file %d\nline two of file %d\n%s\n' "$i" "$i" "$(printf '%060d' "$i")" >"$d/src/d$((i / 100))/f$i.txt"
    done
    git -C "$d" init -q
    git -C "$d" config user.email bench@example.com
    git -C "$d" config user.name bench
    git -C "$d" config gc.auto 0
    t0=$(now_ns)
    git -C "$d" add -A
    git -C "$d" commit -q -m "2,000 files"
    t1=$(now_ns)
    git -C "$d" gc -q
    t2=$(now_ns)
    rm -rf "$d"
    echo "git_commit=$(secs "$t0" "$t1")"
    echo "git_gc=$(secs "$t1" "$t2")"
}

run_sqlite() { # dir
    local d=$1/sqlite t0 t1
    mkdir -p "$d"
    t0=$(now_ns)
    python3 - "$d/bench.db" "$SQLITE_TXNS" <<'EOF' | sqlite3 "$d/bench.db"
import sys
n = int(sys.argv[2])
print("PRAGMA synchronous=FULL;")
print("CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER, v TEXT);")
print("CREATE INDEX t_k ON t(k);")
for i in range(n):
    print("BEGIN;")
    for j in range(10):
        print(f"INSERT INTO t (k, v) VALUES ({(i * 7919 + j) % 100003}, 'row {i}-{j} {'x' * 80}');")
    print("COMMIT;")
EOF
    t1=$(now_ns)
    rm -rf "$d"
    echo "sqlite=$(secs "$t0" "$t1")"
}

dir_of() { echo "$BENCH_DIR/$1"; }

declare -A V
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
read -r -a FS_LIST <<<"$FSES"
read -r -a APP_LIST <<<"$APPS"
for round in $(seq 0 $((ROUNDS - 1))); do
    for app in "${APP_LIST[@]}"; do
        for k in $(seq 0 $((${#FS_LIST[@]} - 1))); do
            fs=${FS_LIST[$(((k + round) % ${#FS_LIST[@]}))]}
            while IFS='=' read -r key value; do
                [ -n "$key" ] && V[$fs,$key]+="$value "
            done < <("run_$app" "$(dir_of "$fs")")
            echo "round $((round + 1)) $app $fs: load $(cut -d' ' -f1 /proc/loadavg)" >&2
        done
    done
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "-" }'; }

printf '\n%s; %s round(s), applications interleaved per round; load average %s at start, %s at end.\n' \
    "$([ "$BENCH_TMPFS" = 1 ] && echo "All on tmpfs" || echo "All on $(stat -f -c %T "$BENCH_DIR")")" \
    "$ROUNDS" "$LOAD_START" "$LOAD_END"
printf '%-24s' "figure (median)"
for fs in "${FS_LIST[@]}"; do printf '%14s' "$fs"; done
for fs in "${FS_LIST[@]}"; do [ "$fs" = native ] || printf '%14s' "$fs/native"; done
printf '   all values\n'
KEYS=()
[[ " $APPS " == *" pg "* ]] && KEYS+=("pg_init:pgbench -i -s $PG_SCALE (s)" "pg_tps:pgbench TPS (-T $PG_SECONDS)")
[[ " $APPS " == *" git "* ]] && KEYS+=("git_commit:git add+commit (s)" "git_gc:git gc (s)")
[[ " $APPS " == *" sqlite "* ]] && KEYS+=("sqlite:sqlite $SQLITE_TXNS txns (s)")
for entry in "${KEYS[@]}"; do
    key=${entry%%:*}; label=${entry#*:}
    printf '%-24s' "$label"
    for fs in "${FS_LIST[@]}"; do printf '%14s' "$(median "${V[$fs,$key]:-}")"; done
    native=$(median "${V[native,$key]:-}")
    for fs in "${FS_LIST[@]}"; do
        [ "$fs" = native ] && continue
        printf '%14s' "$(awk -v a="$(median "${V[$fs,$key]:-}")" -v b="$native" 'BEGIN { if (b + 0 > 0 && a + 0 > 0) printf "%.2f", a / b; else print "-" }')"
    done
    printf '   '
    for fs in "${FS_LIST[@]}"; do printf '%s[%s] ' "$fs" "$(echo ${V[$fs,$key]:-})"; done
    printf '\n'
done
echo "(times: lower is better, ratio > 1 is slower; TPS: higher is better, ratio < 1 is slower)"

# Where the time goes: FUSE requests per opcode (kernel tracepoint fuse:fuse_request_send) for one
# extra, untimed run of each application on each Berth mount, and optionally the server's syscalls.
if [ "$COUNT_REQUESTS" = 1 ]; then
    OUT="$BENCH_DIR/../bench-apps-requests"
    mkdir -p "$OUT"
    for app in "${APP_LIST[@]}"; do
        for fs in "${FS_LIST[@]}"; do
            [ "$fs" = native ] && continue
            spid=""
            if [ "$STRACE" = 1 ]; then
                strace -c -f -o "$OUT/$app-$fs.strace" -p "${SERVER[$fs]}" 2>/dev/null &
                spid=$!
                sleep 0.5
            fi
            conn=$(mountpoint -d "$(dir_of "$fs")" | cut -d: -f2)
            perf record -q -o "$OUT/$app-$fs.perf" -e fuse:fuse_request_send --filter "connection == $conn" -a -- \
                bash -c "$(declare -f run_$app as_pg now_ns secs); $(declare -p BENCH_DIR PG_PORT PG_SCALE PG_SECONDS pg_bin PGBENCH GIT_FILES SQLITE_TXNS); run_$app $(dir_of "$fs")" \
                >/dev/null 2>&1
            [ -n "$spid" ] && { kill -INT "$spid"; wait "$spid" 2>/dev/null || true; }
            printf '\n%s on %s: FUSE requests by opcode\n' "$app" "$fs"
            perf script -i "$OUT/$app-$fs.perf" -F trace 2>/dev/null \
                | grep -o '(FUSE_[A-Z0-9_]*)' | tr -d '()' | sort | uniq -c | sort -rn | head -20
            if [ -n "$spid" ]; then
                printf '%s on %s: server syscalls (strace -c -f)\n' "$app" "$fs"
                head -25 "$OUT/$app-$fs.strace"
            fi
        done
    done
fi
