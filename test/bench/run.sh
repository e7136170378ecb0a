#!/usr/bin/env bash
# test/bench/run.sh - the whole benchmark in one go, on this machine, all
# traffic on 127.0.0.1 (see BENCHMARKS.md):
#   1. a private PostgreSQL (durable: fsync and synchronous_commit on) and
#      `cmpgw serve` with --workers N, on a cached demo PKI + device fixture;
#   2. a 1,000-entry serial list (and, with --big, 10,000,000 entries, timed
#      import), load at each --conc level (explicit confirm), then implicit
#      confirm and kur; CPU of the gateway and of PostgreSQL per enrollment
#      from /proc (utime+stime, reaped children included), gateway RSS;
#   3. the same client against OpenSSL's own mock server (`openssl cmp
#      -port`), same PKI, ONE device and one fixed new key (the mock answers
#      with one fixed certificate, serves one transaction at a time and has
#      crashed on a second device: DESIGN.md), restarted whenever it exits;
#   4. a table with the ratios side by side.
# After the explicit sweep it runs "half-peak": explicit enrollments in open
# loop (cmpbench --rate) at half the rate measured at the top --conc level,
# --conc as the cap in flight, latency from each scheduled start (issue 5's
# bar: p99 < 10 ms at half of the peak rate); --long S runs the top level
# for S seconds (the bar's 60 s with zero failures).
# Every step is bounded (durations, counts, timeouts); the script cleans up.
#
# usage: test/bench/run.sh [--build DIR] [--workers N] [--conc "1 8 32 128"]
#          [--duration S] [--devices N] [--big] [--ossl] [--out DIR]
#          [--pgstat]    (pg_stat_statements per statement, per run)
#          [--no-mock]   (skip OpenSSL's mock server)
#          [--certs N]   (then pre-load N issued certificates, with their
#                         transactions and audit rows, by SQL; explicit load
#                         again at the top --conc over all serial-listed
#                         devices; compared with the 1k-serial row)
#          [--c1000]     (explicit load at 1,000 concurrent connections,
#                         gateway RSS now and peak (VmHWM))
#          [--profile]   (instead: gateway under callgrind, 1 worker, 300
#                         explicit enrollments, annotated profile)
#          [--no-halfpeak] (skip the open-loop run at half the peak rate)
#          [--long S]    (explicit load at the top --conc level for S seconds)
#          [--pool N]    (database.pool: PostgreSQL connections per worker;
#                         default: the demo configuration's)
#          [--pg-opts "-c NAME=VALUE ..."] (more PostgreSQL settings; the
#                         defaults here: shared_buffers=512MB, durable commits)
#          [--hsm]       (the issuing CA key, which then also signs the CMP
#                         answers, in a SoftHSM2 token made for the run,
#                         through libp11's engine; needs softhsm2, opensc,
#                         libengine-pkcs11-openssl)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$ROOT/build-bench
WORKERS=$(nproc)
CONCS="1 8 32 128"
DURATION=10
DEVICES=10000
BIG=0
OSSL=0
PROFILE=0
PGSTAT=0
MOCK_RUN=1
CERTS=0
C1000=0
HALFPEAK=1
LONG=0
HSM=0
OUT=/var/tmp/cmpbench
POOL=
PG_EXTRA=
PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}

while [ $# -gt 0 ]; do
	case $1 in
	--build) BUILD=$(realpath "$2"); shift 2 ;;
	--workers) WORKERS=$2; shift 2 ;;
	--conc) CONCS=$2; shift 2 ;;
	--duration) DURATION=$2; shift 2 ;;
	--devices) DEVICES=$2; shift 2 ;;
	--big) BIG=1; shift ;;
	--ossl) OSSL=1; shift ;;
	--profile) PROFILE=1; WORKERS=1; shift ;;
	--pgstat) PGSTAT=1; shift ;;
	--no-mock) MOCK_RUN=0; shift ;;
	--certs) CERTS=$2; shift 2 ;;
	--c1000) C1000=1; shift ;;
	--no-halfpeak) HALFPEAK=0; shift ;;
	--long) LONG=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	--pool) POOL=$2; shift 2 ;;
	--pg-opts) PG_EXTRA=$2; shift 2 ;;
	--hsm) HSM=1; shift ;;
	*) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 2 ;;
	esac
done

# 1,000 connections: client and gateway each hold one socket per slot
if [ "$C1000" = 1 ] && [ "$(ulimit -n)" -lt 4096 ]; then
	ulimit -n 4096 2>/dev/null || { echo "--c1000 needs ulimit -n >= 4096 (hard limit: $(ulimit -Hn))" >&2; exit 2; }
fi
# What the steps below run; .ci/deps installs all but valgrind.
need() { command -v "$1" >/dev/null 2>&1 || { echo "run.sh needs $1 (apt-get install $2)" >&2; exit 2; }; }
need python3 python3
need openssl openssl
need meson meson
need ninja ninja-build
[ -x "$PG_BINDIR/initdb" ] || { echo "run.sh needs PostgreSQL 15 in $PG_BINDIR (apt-get install postgresql, or set PG_BINDIR)" >&2; exit 2; }
[ "$PROFILE" = 1 ] && need valgrind valgrind
if [ "$HSM" = 1 ]; then
	need softhsm2-util softhsm2
	need pkcs11-tool opensc
	[ -f /usr/lib/softhsm/libsofthsm2.so ] || { echo "run.sh --hsm needs /usr/lib/softhsm/libsofthsm2.so (apt-get install softhsm2)" >&2; exit 2; }
fi
# A fresh checkout has no build directory yet: make it (optimised, as the
# default buildtype), and bring an existing one up to date.
if [ ! -f "$BUILD/build.ninja" ]; then
	meson setup "$BUILD" "$ROOT" >/dev/null || { echo "meson setup $BUILD failed" >&2; exit 2; }
fi
ninja -C "$BUILD" >/dev/null || { echo "build failed: ninja -C $BUILD" >&2; exit 2; }
CMPGW=$BUILD/cmd/cmpgw
BENCH=${CMPBENCH:-$BUILD/test/bench/cmpbench}
[ -x "$CMPGW" ] && [ -x "$BENCH" ] || { echo "no cmpgw or cmpbench in $BUILD" >&2; exit 2; }
TCK=$(getconf CLK_TCK)
DEMO=$OUT/demo
FIX=$OUT/fixture
RUN=$OUT/run.$$
mkdir -p "$OUT" "$RUN"
chmod 755 "$OUT" "$RUN"
RESULTS=$RUN/results.txt
: >"$RESULTS"

PIDS=()
PG_DATA=$RUN/pg
PG_SOCK=$RUN/sock
asuser() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	[ -f "$PG_DATA/postmaster.pid" ] && asuser "$PG_BINDIR/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null 2>&1 || true
	[ -n "${KEEP:-}" ] || rm -rf "$RUN/pg"
}
trap cleanup EXIT

# --- /proc accounting ----------------------------------------------------
# CPU ticks of pid and all its live descendants; exited, reaped children are
# in their parent's cutime/cstime (the postmaster reaps its backends).
tree_ticks() {
	local all=" $1 " frontier=$1 kids
	while [ -n "$frontier" ]; do
		kids=$(ps -e -o pid=,ppid= | awk -v f=" $frontier " 'index(f, " " $2 " ") {print $1}' | tr '\n' ' ')
		all="$all$kids"
		frontier=$(echo "$kids" | xargs)
	done
	local t=0 p v
	for p in $all; do
		v=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12+$13+$14+$15}') || v=0
		t=$((t + ${v:-0}))
	done
	echo $t
}
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# --- PKI and fixture (cached) ---------------------------------------------
if [ ! -f "$DEMO/cmpgw.json" ]; then
	"$CMPGW" init --devices 2 --force "$DEMO" >/dev/null
	rm -rf "$FIX" # devices are issued by the demo's vendor CA
fi
find "$OUT" -maxdepth 1 -type d -exec chmod a+rx {} +
"$BENCH" fixture --dir "$FIX" --devices "$DEVICES" --ca "$DEMO/vendor/vendor-ca.crt" \
	--ca-key "$DEMO/vendor/vendor-ca.key"

# --- PostgreSQL -------------------------------------------------------------
mkdir -p "$PG_SOCK"
[ "$(id -u)" = 0 ] && chown postgres: "$RUN" "$PG_SOCK"
asuser "$PG_BINDIR/initdb" -D "$PG_DATA" --auth=trust -U postgres -E UTF8 >/dev/null
PG_OPTS="-c listen_addresses='' -k $PG_SOCK -c max_connections=200 -c shared_buffers=512MB"
[ -n "$PG_EXTRA" ] && PG_OPTS="$PG_OPTS $PG_EXTRA"
[ "$PGSTAT" = 1 ] && PG_OPTS="$PG_OPTS -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all"
asuser "$PG_BINDIR/pg_ctl" -D "$PG_DATA" -l "$RUN/pg.log" -w -t 60 -o "$PG_OPTS" start >/dev/null
PGPID=$(head -1 "$PG_DATA/postmaster.pid")
createdb -h "$PG_SOCK" -U postgres cmpgw
URL="host=$PG_SOCK dbname=cmpgw user=postgres"
PSQL=(psql -X -q -A -t -h "$PG_SOCK" -U postgres -d cmpgw)
[ "$PGSTAT" = 1 ] && "${PSQL[@]}" -c 'CREATE EXTENSION pg_stat_statements'

# a port pair (gateway, mock) nobody listens on, below the kernel's
# ephemeral range (the client's own connections take ports there, and
# binding one of those fails with "Address already in use"); others run
# this script too
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
EPH=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
SPAN=$(((EPH - 20000) / 2))
[ "$SPAN" -ge 100 ] || SPAN=100
PORT=$((20000 + 2 * ($$ % SPAN)))
for _ in $(seq 50); do
	port_free "$PORT" && port_free $((PORT + 1)) && break
	PORT=$((20000 + (PORT - 20000 + 2) % (2 * SPAN)))
done
# --- --hsm: a SoftHSM2 token with the issuing CA key (EC P-256 like the
# demo's file key), its certificate signed by the demo root ------------------
HSMDIR=
if [ "$HSM" = 1 ]; then
	HSMDIR=$RUN/softhsm
	SOFTHSM=/usr/lib/softhsm/libsofthsm2.so
	mkdir -p "$HSMDIR/tokens"
	printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
		"$HSMDIR/tokens" >"$HSMDIR/softhsm2.conf"
	export SOFTHSM2_CONF=$HSMDIR/softhsm2.conf
	softhsm2-util --init-token --free --label cmpgw-bench --pin 24681357 --so-pin 13572468 >/dev/null
	pkcs11-tool --module "$SOFTHSM" --token-label cmpgw-bench --login --pin 24681357 \
		--keypairgen --key-type EC:prime256v1 --label issuing --id 01 --sensitive >/dev/null
	PKCS11_MODULE_PATH=$SOFTHSM openssl req -new -engine pkcs11 -keyform engine \
		-key "pkcs11:token=cmpgw-bench;object=issuing;type=private;pin-value=24681357" \
		-subj "/O=Demo Operator/CN=cmpgw Demo Issuing CA" -out "$HSMDIR/ca.csr" 2>/dev/null
	printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' >"$HSMDIR/ca.ext"
	openssl x509 -req -in "$HSMDIR/ca.csr" -CA "$DEMO/pki/operator-root.crt" \
		-CAkey "$DEMO/pki/operator-root.key" -set_serial "0x$(openssl rand -hex 8)" \
		-days 365 -extfile "$HSMDIR/ca.ext" -out "$HSMDIR/ca.crt" 2>/dev/null
	(umask 077; echo 24681357 >"$HSMDIR/pin")
fi
CONF=$RUN/cmpgw.json
python3 - "$DEMO/cmpgw.json" "$CONF" "$URL" "$PORT" "$WORKERS" "$RUN" "$POOL" "$HSMDIR" <<'EOF'
import json, os, sys
src, dst, url, port, workers, run, pool, hsm = sys.argv[1:]
c = json.load(open(src))
base = os.path.dirname(os.path.abspath(src))
def fix(p): return p if os.path.isabs(p) else os.path.join(base, p)
for k, v in c["ca"].items():
    c["ca"][k] = [fix(x) for x in v] if isinstance(v, list) else fix(v)
c["tokens"]["key_file"] = fix(c["tokens"]["key_file"])
c["database"]["url"] = url
c["data_dir"] = os.path.join(run, "state")
c["listen"][0]["port"] = int(port)
c["workers"] = int(workers)
if pool:
    c["database"]["pool"] = int(pool)
c.setdefault("log", {})["level"] = "warn"
if hsm:
    c["ca"]["issuing_cert"] = os.path.join(hsm, "ca.crt")
    c["ca"]["issuing_key"] = "pkcs11:token=cmpgw-bench;object=issuing;type=private"
    # the token key signs the answers too: one key, as an operator with one
    # CA key in an HSM would run it
    c["ca"].pop("cmp_cert", None)
    c["ca"].pop("cmp_key", None)
    c["ca"]["cmp_chain"] = [fix("pki/operator-root.crt")]
    c["pkcs11"] = {"module": "/usr/lib/softhsm/libsofthsm2.so",
                   "pin_file": os.path.join(hsm, "pin")}
json.dump(c, open(dst, "w"), indent=2)
EOF
"$CMPGW" migrate --config "$CONF" >/dev/null
"$CMPGW" vendor add --config "$CONF" acme >/dev/null
"$CMPGW" vendor anchor add --config "$CONF" acme "$DEMO/vendor/vendor-root.crt" >/dev/null
"$CMPGW" vendor intermediate add --config "$CONF" acme "$DEMO/vendor/vendor-ca.crt" >/dev/null

secs() { python3 -c 'import sys; print("%.3f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$1" "$2"; }
import_serials() { # file -> seconds
	local t0 t1
	t0=$(date +%s.%N)
	"$CMPGW" serials import --config "$CONF" acme "$1" >/dev/null
	t1=$(date +%s.%N)
	secs "$t0" "$t1"
}
head -1000 "$FIX/serials.txt" >"$RUN/serials-1k.txt"
T=$(import_serials "$RUN/serials-1k.txt")
echo "serial import 1,000 rows: ${T}s" | tee -a "$RESULTS"

GW_WRAP=()
[ "$PROFILE" = 1 ] && GW_WRAP=(valgrind --tool=callgrind --callgrind-out-file="$RUN/callgrind.out")
start_gw() {
	"${GW_WRAP[@]}" "$CMPGW" serve --config "$CONF" >"$RUN/serve.log" 2>&1 &
	GWPID=$!
	PIDS+=("$GWPID")
	for _ in $(seq 600); do
		(exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && return 0
		sleep 0.1
	done
	echo "cmpgw did not start:"; tail "$RUN/serve.log"; exit 1
}
start_gw

COMMON=(--dir "$FIX" --root "$DEMO/pki/operator-root.crt" --chain "$DEMO/vendor/vendor-ca.crt"
	--timeout 10)

# One measured run against cmpgw: label flow conc devices [client [duration
# [more cmpbench options]]]
measure() {
	local label=$1 flow=$2 conc=$3 devs=$4 client=${5:-own} dur=${6:-$DURATION} g0 p0 g1 p1 ok w0= w1=
	shift $(($# < 6 ? $# : 6))
	[ "$PGSTAT" = 1 ] && "${PSQL[@]}" -c 'SELECT pg_stat_statements_reset()' >/dev/null
	[ "$PGSTAT" = 1 ] && w0=$("${PSQL[@]}" -c "$WALQ")
	g0=$(tree_ticks "$GWPID"); p0=$(tree_ticks "$PGPID")
	"$BENCH" run "${COMMON[@]}" --port "$PORT" --flow "$flow" --conc "$conc" --devices "$devs" \
		--client "$client" --duration "$dur" --label "$label" --json "$RUN/last.json" "$@" || true
	g1=$(tree_ticks "$GWPID"); p1=$(tree_ticks "$PGPID")
	ok=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ok"])' "$RUN/last.json")
	python3 - "$RUN/last.json" $((g1 - g0)) $((p1 - p0)) "$TCK" "$(rss_kb "$GWPID")" >>"$RESULTS" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1])); g, p, tck, rss = map(int, sys.argv[2:])
n = max(r["ok"], 1)
extra = json.dumps(r["failures"]) if r["failures"] else ""
if r.get("target_rate", 0) > 0:
    extra += " open loop: target %.1f/s, %d due, %d skipped, %d late > 1 ms, max lag %.2f ms" % (
        r["target_rate"], r["scheduled"], r["skipped_starts"], r["late_starts"], r["max_start_lag_ms"])
print("%-22s %-8s %-4s %5d %8.1f %7.2f %7.2f %7.2f %7.2f %6d %8.3f %8.3f %7d %7.3f %7.3f  %s" % (
    r["label"], r["flow"], r["client"], r["conc"], r["rate"], r["p50_ms"], r["p90_ms"],
    r["p99_ms"], r["max_ms"], r["failed"], g * 1000.0 / tck / n, p * 1000.0 / tck / n,
    rss // 1024, r["client_cpu_ms"], r.get("client_run_cpu_ms", 0), extra))
EOF
	tail -1 "$RESULTS"
	if [ "$PGSTAT" = 1 ]; then
		w1=$("${PSQL[@]}" -c "$WALQ")
		python3 - "$w0" "$w1" "$ok" <<'EOF' | tee -a "$RESULTS"
import sys
a, b = ([int(x) for x in v.split("|")] for v in sys.argv[1:3]); n = max(int(sys.argv[3]), 1)
print("  WAL per enrollment: %.1f records, %.2f full-page images, %.0f bytes" %
      tuple((y - x) / n for x, y in zip(a, b)))
EOF
		pgstat_dump "$RUN/pgstat-$flow-$conc-$(echo "$label" | tr -c 'A-Za-z0-9\n' '_').txt" "$ok"
	fi
	return 0
}

# --pgstat: WAL written per enrollment (pg_stat_wal: records, full-page
# images, bytes; the whole cluster, so background writes are included)
WALQ="SELECT wal_records || '|' || wal_fpi || '|' || wal_bytes::bigint FROM pg_stat_wal"
# --pgstat: per statement (nested ones in the SQL functions included) calls
# and execution ms per enrollment; planning is not counted.
pgstat_dump() {
	"${PSQL[@]}" -F ' | ' -c "SELECT calls, round((total_exec_time / greatest($2, 1))::numeric, 4) AS ms_per_enr,
		round(mean_exec_time::numeric, 4) AS mean_ms, rows, left(regexp_replace(query, '\s+', ' ', 'g'), 110)
		FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 30" >"$1"
	echo "pg_stat_statements: $1"
}

if [ "$PROFILE" = 1 ]; then
	"$BENCH" run "${COMMON[@]}" --port "$PORT" --flow explicit --conc 4 --devices 1000 \
		--count 300 --duration 120 --timeout 30 --label callgrind
	kill "$GWPID"; wait "$GWPID" || true
	callgrind_annotate --inclusive=yes "$RUN/callgrind.out" 2>/dev/null | head -70 >"$RUN/profile-inclusive.txt" || true
	callgrind_annotate "$RUN/callgrind.out" 2>/dev/null | head -50 >"$RUN/profile-self.txt" || true
	cat "$RUN/profile-inclusive.txt" "$RUN/profile-self.txt"
	exit 0
fi

HDR=$(printf "%-22s %-8s %-4s %5s %8s %7s %7s %7s %7s %6s %8s %8s %7s %7s %7s" label flow cli conc "enr/s" p50ms p90ms p99ms maxms fail "gw-ms" "pg-ms" "rssMB" "cli-ms" "cli-run")
echo "$HDR" | tee -a "$RESULTS"
CMAX=$(echo "$CONCS" | tr ' ' '\n' | sort -n | tail -1)
PEAK=0
for c in $CONCS; do
	[ "$c" -le 1000 ] || continue
	measure "cmpgw 1k serials" explicit "$c" 1000
	[ "$c" = "$CMAX" ] && PEAK=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["rate"])' "$RUN/last.json")
done
if [ "$HALFPEAK" = 1 ]; then
	# open loop at half the rate just measured at the top level, the same
	# cap in flight; a rate of 0 (no successes) is reported, not run
	HALF=$(python3 -c 'import sys; print("%.1f" % (float(sys.argv[1]) / 2))' "$PEAK")
	if python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) > 0 else 1)' "$HALF"; then
		echo "half-peak: peak $PEAK/s at conc $CMAX, open loop at $HALF/s" | tee -a "$RESULTS"
		measure "cmpgw half-peak" explicit "$CMAX" 1000 own "$DURATION" --rate "$HALF"
	else
		echo "half-peak: no peak rate measured at conc $CMAX, not run" | tee -a "$RESULTS"
	fi
fi
if [ "$LONG" != 0 ]; then
	measure "cmpgw long ${LONG}s" explicit "$CMAX" 1000 own "$LONG"
fi
measure "cmpgw 1k serials" implicit "$CMAX" 1000
measure "cmpgw 1k serials" kur "$CMAX" 1000
if [ "$OSSL" = 1 ]; then
	measure "cmpgw ossl-client" explicit 1 1000 ossl
	measure "cmpgw ossl-client" explicit 8 1000 ossl
fi
echo "certificates issued: $("${PSQL[@]}" -c 'select count(*) from certificates')" | tee -a "$RESULTS"

if [ "$BIG" = 1 ]; then
	# 10M allowed serials: the fixture's devices plus synthetic ones
	{ cat "$FIX/serials.txt"; seq -f "SYN-%08.0f" 1 $((10000000 - $(wc -l <"$FIX/serials.txt"))); } >"$RUN/serials-10m.txt"
	T=$(import_serials "$RUN/serials-10m.txt")
	echo "serial import 10,000,000 rows: ${T}s = $(python3 -c 'import sys; print(int(1e7 / float(sys.argv[1])))' "$T") rows/s" | tee -a "$RESULTS"
	rm -f "$RUN/serials-10m.txt"
	echo "$HDR" | tee -a "$RESULTS"
	measure "cmpgw 10M serials" explicit "$CMAX" "$DEVICES"
	echo "certificates issued: $("${PSQL[@]}" -c 'select count(*) from certificates')" | tee -a "$RESULTS"
fi
if [ "$CERTS" -gt 0 ]; then
	# Issued certificates as enrollments leave them: one certificate, one
	# confirmed transaction and one audit row each, copied from a real
	# enrollment above (same DER and sender certificate sizes), with
	# distinct serial numbers, transactionIDs and device serials, so that
	# every index has its real size. Then VACUUM ANALYZE and CHECKPOINT, so
	# that the measured run does not pay for writing the pre-load out.
	t0=$(date +%s.%N)
	"${PSQL[@]}" -v n="$CERTS" >/dev/null <<'SQL'
BEGIN;
WITH c AS (
	INSERT INTO certificates (issuer, serial_hex, der, subject, not_before, not_after, status,
	                          vendor_id, device_serial, key_fp, alias, revoked_at, revocation_reason)
	SELECT t.issuer, upper(md5(g::text) || substr(md5('s' || g), 1, 8)), t.der, t.subject,
	       t.not_before, t.not_after,
	       CASE WHEN g % 1000 = 0 THEN 'revoked' WHEN g % 3 = 0 THEN 'superseded' ELSE 'active' END,
	       t.vendor_id, 'SYN-' || lpad((g % 9990000 + 1)::text, 8, '0'), sha256(('k' || g)::bytea),
	       t.alias, CASE WHEN g % 1000 = 0 THEN now() END, CASE WHEN g % 1000 = 0 THEN 1 END
	  FROM generate_series(1, :n) g, (SELECT * FROM certificates ORDER BY id LIMIT 1) t
	RETURNING id, device_serial)
INSERT INTO transactions (tid, alias, body_type, state, sender_fp, sender_cert, server_nonce,
                          client_nonce, cert_req_id, cert_id, cert_hash, confirm_deadline,
                          vendor_id, device_serial)
SELECT decode(md5('t' || c.id), 'hex'), x.alias, x.body_type, 'confirmed',
       sha256(('f' || c.id)::bytea), x.sender_cert, decode(md5('n' || c.id), 'hex'),
       decode(md5('c' || c.id), 'hex'), 0, c.id, sha256(('h' || c.id)::bytea), now(),
       x.vendor_id, c.device_serial
  FROM c, (SELECT * FROM transactions WHERE sender_cert IS NOT NULL ORDER BY created_at LIMIT 1) x;
INSERT INTO audit (event, alias, tid, vendor, device_serial, peer, detail)
SELECT 'issued', 'p', decode(md5('t' || g), 'hex'), 'acme',
       'SYN-' || lpad((g % 9990000 + 1)::text, 8, '0'), '127.0.0.1', 'ir: serial ' || upper(md5(g::text))
  FROM generate_series(1, :n) g;
COMMIT;
VACUUM ANALYZE certificates;
VACUUM ANALYZE transactions;
VACUUM ANALYZE audit;
CHECKPOINT;
SQL
	t1=$(date +%s.%N)
	echo "pre-load of $CERTS certificates (+ transactions, audit, vacuum, checkpoint): $(secs "$t0" "$t1")s" | tee -a "$RESULTS"
	echo "certificates: $("${PSQL[@]}" -c 'select count(*) from certificates'), serials: $("${PSQL[@]}" -c 'select count(*) from serials')" | tee -a "$RESULTS"
	"${PSQL[@]}" -F ' ' -c "SELECT c.relname, pg_size_pretty(pg_relation_size(c.oid)) FROM pg_class c
		WHERE c.relname IN ('certificates', 'transactions', 'serials', 'audit') OR c.oid IN
		(SELECT indexrelid FROM pg_index WHERE indrelid IN ('certificates'::regclass, 'transactions'::regclass, 'serials'::regclass))
		ORDER BY 1" | paste -sd ',' | sed 's/^/sizes: /' | tee -a "$RESULTS"
	echo "$HDR" | tee -a "$RESULTS"
	if [ "$BIG" = 1 ]; then CLABEL="cmpgw 10M+${CERTS}c"; CDEV=$DEVICES; else CLABEL="cmpgw 1k+${CERTS}c"; CDEV=1000; fi
	measure "$CLABEL" explicit "$CMAX" "$CDEV"
	python3 - "$RESULTS" "$CLABEL" "$CMAX" <<'PY' | tee -a "$RESULTS"
import sys
res, label, conc = sys.argv[1:]
rows = {}
for l in open(res):
    for lab in ("cmpgw 1k serials", label):
        f = l[23:].split()
        if l.startswith(lab.ljust(22)) and len(f) > 10 and f[0] == "explicit" and f[2] == conc:
            rows[lab] = f
a, b = rows.get("cmpgw 1k serials"), rows.get(label)
if a and b:
    r = lambda i: (float(b[i]), float(a[i]), float(b[i]) / float(a[i]) if float(a[i]) else float("nan"))
    print("%s vs 1k serials, explicit, conc %s: enr/s %.1f vs %.1f (x%.2f), gw-ms %.3f vs %.3f (x%.2f), pg-ms %.3f vs %.3f (x%.2f)"
          % ((label, conc) + r(3) + r(9) + r(10)))
PY
fi
if [ "$C1000" = 1 ]; then
	echo "$HDR" | tee -a "$RESULTS"
	measure "cmpgw 1000 conns" explicit 1000 1000
	echo "gateway RSS at 1,000 connections: now $(($(rss_kb "$GWPID") / 1024)) MB, peak (VmHWM) $(($(awk '/VmHWM/ {print $2}' "/proc/$GWPID/status") / 1024)) MB" | tee -a "$RESULTS"
fi
kill "$GWPID"; wait "$GWPID" || true
[ "$MOCK_RUN" = 1 ] || { echo "results: $RESULTS"; exit 0; }

# --- OpenSSL's mock server --------------------------------------------------
# Fixture device 1 enrolls once at cmpgw (same PKI): the mock answers
# every request with that certificate, so the client uses the same new key.
start_gw
openssl cmp -cmd ir -server "127.0.0.1:$PORT" -path .well-known/cmp/p/3gpp \
	-cert "$FIX/devices.pem" -key "$FIX/devices.pem" \
	-newkey "$DEMO/devices/new-0001.key" -subject /CN=x -implicit_confirm \
	-trusted "$DEMO/pki/operator-root.crt" -extracerts "$DEMO/vendor/vendor-ca.crt" \
	-certout "$RUN/mock-rsp.crt" -msg_timeout 10 -total_timeout 10 >/dev/null 2>&1 || {
	echo "could not get the mock's response certificate from cmpgw"; exit 1; }
kill "$GWPID"; wait "$GWPID" || true
MPORT=$((PORT + 1))
(
	# the clean-up kills this loop: take the running mock along
	child=
	trap '[ -n "$child" ] && kill "$child" 2>/dev/null; exit 0' TERM
	end=$((SECONDS + 4 * DURATION + 60))
	while [ $SECONDS -lt $end ]; do
		openssl cmp -port "$MPORT" -srv_cert "$DEMO/pki/cmp-signer.crt" \
			-srv_key "$DEMO/pki/cmp-signer.key" \
			-srv_untrusted "$DEMO/pki/issuing-ca.crt" \
			-srv_trusted "$DEMO/vendor/vendor-root.crt" \
			-rsp_cert "$RUN/mock-rsp.crt" -rsp_capubs "$DEMO/pki/operator-root.crt" \
			-verbosity 3 \
			>>"$RUN/mock.log" 2>&1 &
		child=$!
		wait "$child" || true
		echo "mock exited" >>"$RUN/mock.log"
	done
) &
MOCK=$!
PIDS+=("$MOCK")
sleep 1
mock_measure() {
	local flow=$1 m0 m1
	m0=$(tree_ticks "$MOCK")
	"$BENCH" run "${COMMON[@]}" --port "$MPORT" --path /pkix/ --flow "$flow" --conc 1 --devices 1 \
		--newkey "$DEMO/devices/new-0001.key" --duration "$DURATION" \
		--label "openssl mock 1 device" --json "$RUN/last.json" || true
	m1=$(tree_ticks "$MOCK")
	python3 - "$RUN/last.json" $((m1 - m0)) "$TCK" >>"$RESULTS" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1])); g, tck = map(int, sys.argv[2:])
n = max(r["ok"], 1)
print("%-22s %-8s %-4s %5d %8.1f %7.2f %7.2f %7.2f %7.2f %6d %8.3f %8s %7s %7.3f %7.3f  %s" % (
    r["label"], r["flow"], r["client"], r["conc"], r["rate"], r["p50_ms"], r["p90_ms"],
    r["p99_ms"], r["max_ms"], r["failed"], g * 1000.0 / tck / n, "-", "-", r["client_cpu_ms"],
    r.get("client_run_cpu_ms", 0), json.dumps(r["failures"]) if r["failures"] else ""))
EOF
	tail -1 "$RESULTS"
}
echo "$HDR" | tee -a "$RESULTS"
mock_measure explicit
mock_measure implicit
echo "mock restarts: $(grep -c 'mock exited' "$RUN/mock.log" || true)" | tee -a "$RESULTS"

# --- side by side -------------------------------------------------------------
python3 - "$RESULTS" <<'EOF'
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.startswith(("cmpgw 1k", "openssl mock"))]
def pick(prefix, flow, conc=None):
    for r in rows:
        lab = " ".join(r[:3]) if r[0] == "cmpgw" else " ".join(r[:4])
        rest = r[3:] if r[0] == "cmpgw" else r[4:]
        if lab.startswith(prefix) and rest[0] == flow and (conc is None or rest[2] == conc):
            return rest
gw1, mk1 = pick("cmpgw 1k", "explicit", "1"), pick("openssl mock", "explicit")
if gw1 and mk1:
    print("\nside by side, explicit confirm, 1 device at a time (cmpgw / mock):")
    for name, i in (("enrollments/s", 3), ("p50 ms", 4), ("p99 ms", 6), ("server CPU ms/enrollment", 9)):
        a, b = float(gw1[i]), float(mk1[i])
        print("  %-26s %9.3f %9.3f   ratio %.2f" % (name, a, b, a / b if b else float("nan")))
EOF
echo "results: $RESULTS"
