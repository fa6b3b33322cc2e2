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
# on each Berth mount; not timed), STRACE=1 (also `strace -c -f` the server during that extra run),
# PASSTHROUGH_HP (libfuse's example/passthrough_hp binary, as for scripts/bench-mount.sh: adds the column
# php, libfuse's reference server with its default day-long caching, for git and SQLite; it mounts
# without allow_other, so the postgres user cannot use it and pg is skipped there), BERTH_BASELINE (another
# berth binary, e.g. a release build of an earlier commit: adds the column ebsb, an ebs mount served by it,
# interleaved with the rest, to measure a change against what it replaces in one run).
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
PASSTHROUGH_HP="${PASSTHROUGH_HP:-}"
if [ -n "$PASSTHROUGH_HP" ] && [[ " $FSES " != *" php "* ]]; then FSES="$FSES php"; fi
BERTH_BASELINE="${BERTH_BASELINE:-}"
if [ -n "$BERTH_BASELINE" ] && [[ " $FSES " != *" ebsb "* ]]; then FSES="$FSES ebsb"; fi

[ "$(id -u)" = 0 ] || { echo "bench-apps.sh: needs root (FUSE mounts, the postgres user)" >&2; exit 1; }

# Benchmark-only packages, installed here and nowhere else.
pg_bin=""
find_pg() { pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true); }
find_pg
missing=()
[ -n "$pg_bin" ] && [ -x "$pg_bin/initdb" ] && command -v pgbench >/dev/null || missing+=(postgresql)
command -v git >/dev/null || missing+=(git)
command -v sqlite3 >/dev/null || missing+=(sqlite3)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} (benchmark only)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null \
        || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null; }
    find_pg
    missing=()
fi
if [ "$COUNT_REQUESTS" = 1 ]; then
    command -v perf >/dev/null || { echo "bench-apps.sh: COUNT_REQUESTS=1 needs perf (Debian: linux-perf) with the fuse tracepoints" >&2; exit 1; }
    if [ "$STRACE" = 1 ] && ! command -v strace >/dev/null; then missing+=(strace); fi
fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} (benchmark only)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
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
    for m in ebs efs php ebsb; do
        mountpoint -q "$BENCH_DIR/$m" && { fusermount3 -u "$BENCH_DIR/$m" 2>/dev/null || umount -l "$BENCH_DIR/$m"; }
    done
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
    sleep 0.3
    # The mount servers take a moment to exit after their unmount; until then the tmpfs is busy.
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        mountpoint -q "$BENCH_DIR" || break
        umount "$BENCH_DIR" 2>/dev/null || sleep 0.5
    done
    mountpoint -q "$BENCH_DIR" || rm -rf "$BENCH_DIR"
}
trap cleanup EXIT
cleanup
mkdir -p "$BENCH_DIR"
if [ "$BENCH_TMPFS" = 1 ]; then mount -t tmpfs -o size=6G berth-bench-apps "$BENCH_DIR"; fi
mkdir -p "$BENCH_DIR"/{native,ebs,efs,php,ebsb,ebs-back,efs-back,php-back,ebsb-back,ebs-state,efs-state,ebsb-state,sock}
chmod 755 "$BENCH_DIR"
chown postgres "$BENCH_DIR/sock"

"$BERTH" _serve-mount --backing "$BENCH_DIR/ebs-back" --mountpoint "$BENCH_DIR/ebs" --volume-id vol-apps \
    --type ebs --capacity-bytes $((5 << 30)) --shared-state "$BENCH_DIR/ebs-state" &
PIDS+=($!); SERVER[ebs]=$!
"$BERTH" _serve-mount --backing "$BENCH_DIR/efs-back" --mountpoint "$BENCH_DIR/efs" --volume-id fs-apps \
    --type efs --shared-state "$BENCH_DIR/efs-state" &
PIDS+=($!); SERVER[efs]=$!
MOUNTED=(ebs efs)
if [[ " $FSES " == *" php "* ]]; then
    "$PASSTHROUGH_HP" --foreground "$BENCH_DIR/php-back" "$BENCH_DIR/php" >/dev/null 2>&1 &
    PIDS+=($!); SERVER[php]=$!
    MOUNTED+=(php)
fi
if [[ " $FSES " == *" ebsb "* ]]; then
    "$BERTH_BASELINE" _serve-mount --backing "$BENCH_DIR/ebsb-back" --mountpoint "$BENCH_DIR/ebsb" --volume-id vol-appsb \
        --type ebs --capacity-bytes $((5 << 30)) --shared-state "$BENCH_DIR/ebsb-state" &
    PIDS+=($!); SERVER[ebsb]=$!
    MOUNTED+=(ebsb)
fi
for m in "${MOUNTED[@]}"; do
    for _ in $(seq 500); do grep -q " $BENCH_DIR/$m fuse" /proc/mounts && break; sleep 0.01; done
    grep -q " $BENCH_DIR/$m fuse" /proc/mounts || { echo "bench-apps.sh: $m did not mount" >&2; exit 1; }
    stat -f "$BENCH_DIR/$m" >/dev/null
done

now_ns() { date +%s%N; }
secs() { awk "BEGIN { printf \"%.3f\", ($2 - $1) / 1e9 }"; }
as_pg() { runuser -u postgres -- "$@"; }

# Runs a timed phase; in the counting run (COUNT_TO set) under perf, recording every FUSE request sent on
# the measured mount and its answer (tracepoints fuse:fuse_request_send / fuse_request_end).
COUNT_TO=""
COUNT_CONN=""
phase() { # name command...
    local name=$1; shift
    if [ -z "$COUNT_TO" ]; then "$@"; return; fi
    perf record -q -o "$COUNT_TO.$name.perf" -e fuse:fuse_request_send --filter "connection == $COUNT_CONN" \
        -e fuse:fuse_request_end --filter "connection == $COUNT_CONN" -a -- "$@"
}

# Each application leaves its figures as "key=value" lines on stdout and cleans up after itself.
run_pg() { # dir
    local d=$1/pg t0 t1 init tps
    mkdir -p "$d" && chown postgres "$d" && chmod 700 "$d"
    as_pg "$pg_bin/initdb" -D "$d" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null
    as_pg "$pg_bin/pg_ctl" -D "$d" -w -l "$BENCH_DIR/sock/pg.log" \
        -o "-p $PG_PORT -k $BENCH_DIR/sock -c listen_addresses='' -c shared_buffers=128MB" start >/dev/null
    as_pg psql -q -h "$BENCH_DIR/sock" -p "$PG_PORT" -d postgres -c 'CREATE DATABASE bench' >/dev/null
    t0=$(now_ns)
    phase pg_init runuser -u postgres -- "$PGBENCH" -q -h "$BENCH_DIR/sock" -p "$PG_PORT" -i -s "$PG_SCALE" bench >/dev/null 2>&1
    t1=$(now_ns)
    init=$(secs "$t0" "$t1")
    tps=$(phase pg_tps runuser -u postgres -- "$PGBENCH" -h "$BENCH_DIR/sock" -p "$PG_PORT" -c 4 -j 2 -T "$PG_SECONDS" bench 2>/dev/null \
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
    phase git_add git -C "$d" add -A
    phase git_commit git -C "$d" commit -q -m "2,000 files"
    t1=$(now_ns)
    phase git_gc git -C "$d" gc -q
    t2=$(now_ns)
    rm -rf "$d"
    echo "git_commit=$(secs "$t0" "$t1")"
    echo "git_gc=$(secs "$t1" "$t2")"
}

run_sqlite() { # dir
    local d=$1/sqlite t0 t1
    mkdir -p "$d"
    python3 - "$SQLITE_TXNS" >"$BENCH_DIR/sqlite.sql" <<'EOF'
import sys
n = int(sys.argv[1])
print("PRAGMA synchronous=FULL;")
print("CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER, v TEXT);")
print("CREATE INDEX t_k ON t(k);")
for i in range(n):
    print("BEGIN;")
    for j in range(10):
        print(f"INSERT INTO t (k, v) VALUES ({(i * 7919 + j) % 100003}, 'row {i}-{j} {'x' * 80}');")
    print("COMMIT;")
EOF
    t0=$(now_ns)
    phase sqlite sqlite3 "$d/bench.db" <"$BENCH_DIR/sqlite.sql"
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
            [ "$fs" = php ] && [ "$app" = pg ] && continue
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

# Where the time goes: one extra, untimed run of each application on each Berth mount, every FUSE request
# of its timed phases recorded (kernel tracepoints, this mount's connection only): per opcode the count
# and the time from the kernel sending the request to the answer (queueing + server + wake-up), median
# and total. STRACE=1: the server's syscalls (strace -c -f) over the whole extra run.
if [ "$COUNT_REQUESTS" = 1 ]; then
    OUT="${COUNT_OUT:-/tmp/bench-apps-requests}"
    rm -rf "$OUT"; mkdir -p "$OUT"
    cat >"$OUT/latency.py" <<'EOF'
import re, sys, statistics
sent, lat, count = {}, {}, {}
for line in sys.stdin:
    m = re.match(r"\s*([0-9.]+):\s+fuse:(fuse_request_\w+):\s+connection (\d+) req (\d+)(?: opcode \d+ \((\w+)\))?", line)
    if not m or m.group(3) != sys.argv[1]:
        continue
    t, ev, req, op = float(m.group(1)), m.group(2), m.group(4), m.group(5)
    if ev == "fuse_request_send":
        sent[req] = (t, op)
        count[op] = count.get(op, 0) + 1
    elif req in sent:
        t0, op = sent.pop(req)
        lat.setdefault(op, []).append((t - t0) * 1e6)
print(f"  {'opcode':<22}{'count':>9}{'median us':>11}{'total ms':>10}")
for op, n in sorted(count.items(), key=lambda kv: -kv[1]):
    l = lat.get(op, [])
    med = statistics.median(l) if l else float("nan")
    print(f"  {op:<22}{n:>9}{med:>11.1f}{sum(l) / 1000:>10.1f}")
print(f"  {'all':<22}{sum(count.values()):>9}{'':>11}{sum(sum(v) for v in lat.values()) / 1000:>10.1f}")
EOF
    for app in "${APP_LIST[@]}"; do
        for fs in "${FS_LIST[@]}"; do
            [ "$fs" = native ] && continue
            [ "$fs" = php ] && [ "$app" = pg ] && continue
            spid=""
            if [ "$STRACE" = 1 ]; then
                strace -c -f -o "$OUT/$app-$fs.strace" -p "${SERVER[$fs]}" 2>/dev/null &
                spid=$!
                sleep 0.5
            fi
            COUNT_TO="$OUT/$app-$fs" COUNT_CONN=$(mountpoint -d "$(dir_of "$fs")" | cut -d: -f2)
            "run_$app" "$(dir_of "$fs")" >"$OUT/$app-$fs.figures"
            COUNT_TO=""
            conn=$COUNT_CONN
            [ -n "$spid" ] && { kill -INT "$spid"; wait "$spid" 2>/dev/null || true; }
            for data in "$OUT/$app-$fs".*.perf; do
                p=${data%.perf}; p=${p##*.}
                printf '\n%s on %s, phase %s (under perf, not timed): FUSE requests\n' "$app" "$fs" "$p"
                perf script -i "$data" -F time,event,trace 2>/dev/null | python3 "$OUT/latency.py" "$conn"
            done
            if [ -n "$spid" ]; then
                printf '%s on %s: server syscalls over the whole run (strace -c -f)\n' "$app" "$fs"
                head -22 "$OUT/$app-$fs.strace"
            fi
        done
    done
fi
