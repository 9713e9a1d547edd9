#!/usr/bin/env bash
# Fill a town, start gunicorn + the worker on it, run Locust headless, write the stats CSV.
#
#   VAR_DIR=/tmp/bench-sqlite bench/load/run.sh
#   VAR_DIR=/tmp/bench-pg DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1/bench_load \
#     BENCH_S3=1 bench/load/run.sh
#
# Knobs (environment): SCALE (0.03; 1.0 = 100,000 foyers), USERS (40), SPAWN_RATE (5),
# DURATION (3m), WORKERS (4 gunicorn workers), PORT (8800), OUT ($VAR_DIR/results),
# CLASSES (the Locust users: "Famille Agent"; "Rentree" for the submission peak), JOBS (2,
# generator processes).
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

# shellcheck disable=SC2086  # CLASSES is a list of words
BENCH_FOYERS=$FOYERS "$BIN/locust" -f bench/load/locustfile.py --headless \
    --host "http://127.0.0.1:$PORT" --users "$USERS" --spawn-rate "$SPAWN_RATE" \
    --run-time "$DURATION" --csv "$OUT/stats" --only-summary $CLASSES 2>&1 | tee "$OUT/locust.log" || true
echo "Stats: $OUT/stats_stats.csv"
