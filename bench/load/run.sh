#!/usr/bin/env bash
# Fill a town, start gunicorn + the worker on it, run Locust headless, write the stats CSV.
#
#   VAR_DIR=/tmp/bench-sqlite bench/load/run.sh
#   VAR_DIR=/tmp/bench-pg DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1/bench_load \
#     BENCH_S3=1 bench/load/run.sh
#
# Knobs (environment): SCALE (0.03; 1.0 = 100,000 foyers), USERS (40), SPAWN_RATE (5),
# DURATION (3m), WORKERS (4 gunicorn workers), PORT (8800), OUT ($VAR_DIR/results),
# CLASSES (the Locust users: "Famille Agent"; "Rentree" for submissions alone; "PicFamille
# PicAgent" for the peak with deposits and agents, no think time), JOBS (2, generator
# processes).
# BENCH_S3=1 starts moto's S3 server for the run and points STORAGE_URL at it (the store
# then lives as long as the run: generate and measure in the same call).
# Only the processes this script started are stopped, by their pid.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/.venv/bin
: "${VAR_DIR:?set VAR_DIR to the folder of the bench instance}"
SCALE=${SCALE:-0.03}
USERS=${USERS:-40}
SPAWN_RATE=${SPAWN_RATE:-5}
DURATION=${DURATION:-3m}
WORKERS=${WORKERS:-4}
PORT=${PORT:-8800}
CLASSES=${CLASSES:-Famille Agent}
JOBS=${JOBS:-2}
OUT=${OUT:-$VAR_DIR/results}
export VAR_DIR FLASK_APP=web:create_app
mkdir -p "$VAR_DIR" "$OUT"
cd "$ROOT"

pids=()
stop() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop EXIT INT TERM

wait_for() {  # url, seconds
    for _ in $(seq "$2"); do
        curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
        sleep 1
    done
    echo "no answer from $1" >&2
    return 1
}

if [[ ${BENCH_S3:-0} == 1 ]]; then
    S3_PORT=${S3_PORT:-8801}
    "$BIN/moto_server" -H 127.0.0.1 -p "$S3_PORT" >"$OUT/moto.log" 2>&1 &
    pids+=($!)
    wait_for "http://127.0.0.1:$S3_PORT/" 30
    export STORAGE_URL="s3://bench-access:bench-secret@127.0.0.1:$S3_PORT/justificatifs?secure=false"
fi

"$BIN/python" bench/load/generate.py --scale "$SCALE" --jobs "$JOBS" | tee "$OUT/generate.log"
FOYERS=$(awk -v s="$SCALE" 'BEGIN { f = int(100000 * s + 0.5); print (f < 1 ? 1 : f) }')

"$BIN/gunicorn" --workers "$WORKERS" --bind "127.0.0.1:$PORT" --access-logfile /dev/null \
    'web:create_app()' >"$OUT/gunicorn.log" 2>&1 &
pids+=($!)
"$BIN/flask" worker >"$OUT/worker.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$PORT/healthz" 60

cpu_ticks() {  # CPU time used so far by the given pids and their children, in clock ticks
    local ticks=0 pid
    for pid in "$@" $(pgrep -P "$(echo "$@" | tr ' ' ',')" || true); do
        [[ -r /proc/$pid/stat ]] || continue
        ticks=$((ticks + $(awk '{ print $14 + $15 }' "/proc/$pid/stat")))
    done
    echo "$ticks"
}
machine_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $5 + $6 + $7 + $8, $5 + $6 }' /proc/stat; }

read -r total_before idle_before < <(machine_ticks)
app_before=$(cpu_ticks "${pids[@]}")
# shellcheck disable=SC2086  # CLASSES is a list of words
BENCH_FOYERS=$FOYERS /usr/bin/time -f "%U %S" -o "$OUT/locust.cpu" "$BIN/locust" \
    -f bench/load/locustfile.py --headless \
    --host "http://127.0.0.1:$PORT" --users "$USERS" --spawn-rate "$SPAWN_RATE" \
    --run-time "$DURATION" --csv "$OUT/stats" --only-summary $CLASSES 2>&1 | tee "$OUT/locust.log" || true
app_after=$(cpu_ticks "${pids[@]}")
read -r total_after idle_after < <(machine_ticks)
# Where the machine's CPU went during the run: the app (gunicorn's workers and the worker;
# moto too with BENCH_S3), Locust itself, and the rest (PostgreSQL, the kernel). Locust's is
# time(1)'s last line: when Locust exits with failures, a line of its own comes first.
awk -v app="$((app_after - app_before))" -v tck="$(getconf CLK_TCK)" \
    -v total="$((total_after - total_before))" -v idle="$((idle_after - idle_before))" \
    '{ locust = $1 + $2; busy = (total - idle) / tck
       printf "CPU during the run: %.0f %% busy; app %.0f s, Locust %.0f s, the rest %.0f s\n",
              100 * (total - idle) / total, app / tck, locust, busy - app / tck - locust }' \
    <(tail -n 1 "$OUT/locust.cpu") | tee "$OUT/cpu.txt"
echo "Stats: $OUT/stats_stats.csv"
