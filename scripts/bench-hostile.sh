#!/usr/bin/env bash
# A hostile user against the release binary, measured (the README's security figures;
# the suite's tests in tests/tests/hostile_clients.rs assert the same at smaller scale):
#
#   scripts/bench-hostile.sh
#
# 1. 400 wrong-password logins hung up on mid-check: how many were counted, and the
#    server's peak threads and resident memory meanwhile;
# 2. 530 strangers trickling console sign-in and change bodies: an admin's
#    `GET /maintenance` latency behind them;
# 3. 32 non-admins each declaring a 16 MiB policy upload: the answer time and the
#    server's resident memory after;
# 4. one user opening 17 event streams: the 17th is refused, another user is served.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p drydock
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
DRYDOCK_ADMIN_PASSWORD=bench-secret target/release/drydock serve --listen 127.0.0.1:$port --data-dir "$dir/data" 2>"$dir/log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
python3 - "$port" "$pid" <<'PY'
import base64, json, socket, sys, threading, time, urllib.request
port, pid = int(sys.argv[1]), int(sys.argv[2])
base = f"http://127.0.0.1:{port}"
def status_of(field):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
def auth(user, pw): return "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()
def call(method, path, user="admin", pw="bench-secret", body=None, ctype="application/json"):
    req = urllib.request.Request(base + path, method=method, data=body,
        headers={"Authorization": auth(user, pw), "Tenant": "default_tenant", "Content-Type": ctype})
    try:
        with urllib.request.urlopen(req, timeout=30) as r: return r.status, r.read()
    except urllib.error.HTTPError as e: return e.code, e.read()
for _ in range(600):
    try:
        if call("GET", "/api/v3.1/status")[0] == 200: break
    except OSError: pass
    time.sleep(0.1)
call("PUT", "/api/v3.1/users", body=json.dumps({"username": "mallory", "password": "m-secret", "role": "default"}).encode())
call("GET", "/api/v3.1/status", "mallory", "m-secret")
def failed():
    text = urllib.request.urlopen(base + "/metrics").read().decode()
    return int(next(l for l in text.splitlines() if l.startswith("drydock_failed_logins_total ")).split()[1])

# 1. hang-ups
before, peak_threads, peak_rss = failed(), 0, 0
rss0 = status_of("VmRSS")
for i in range(400):
    c = socket.create_connection(("127.0.0.1", port))
    c.sendall(f"GET /api/v3.1/status HTTP/1.1\r\nHost: x\r\nAuthorization: {auth('mallory', f'wrong-{i}')}\r\n\r\n".encode())
    time.sleep(0.02)  # the check has begun (it waits for a turn or hashes): hang up now
    c.close()
    peak_threads, peak_rss = max(peak_threads, status_of("Threads")), max(peak_rss, status_of("VmRSS"))
start = time.time()
while failed() < before + 400 and time.time() - start < 300:
    peak_threads, peak_rss = max(peak_threads, status_of("Threads")), max(peak_rss, status_of("VmRSS"))
    time.sleep(0.05)
print(f"1. 400 hung-up wrong passwords: {failed() - before} counted in {time.time() - start:.1f} s after the last; "
      f"peak {peak_threads} threads, resident {rss0 / 1024:.1f} -> peak {peak_rss / 1024:.1f} MiB")

# 2. slow console bodies
held = []
for i in range(530):
    c = socket.create_connection(("127.0.0.1", port))
    path = "/console/login" if i % 2 == 0 else "/console/maintenance/activate"
    c.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nu".encode())
    held.append(c)
time.sleep(0.5)
took = []
for _ in range(5):
    t = time.time(); s, _ = call("GET", "/api/v3.1/maintenance"); took.append(time.time() - t); assert s == 200
print(f"2. behind 530 slow console bodies, an admin's GET /maintenance: worst of 5 {max(took) * 1000:.1f} ms")
for c in held: c.close()

# 3. non-admin 16 MiB uploads
rss0, socks, t = status_of("VmRSS"), [], time.time()
for _ in range(32):
    c = socket.create_connection(("127.0.0.1", port))
    c.sendall(f"POST /api/v3.1/policies HTTP/1.1\r\nHost: x\r\nAuthorization: {auth('mallory', 'm-secret')}\r\nTenant: default_tenant\r\nContent-Type: application/wasm\r\nContent-Length: {16 << 20}\r\n\r\n".encode())
    socks.append(c)  # the body never comes: answered before it was read
answers = [c.recv(64).split(b"\r\n")[0].decode() for c in socks]
print(f"3. 32 non-admin 16 MiB uploads: all {set(answers)} within {time.time() - t:.2f} s; "
      f"resident {rss0 / 1024:.1f} -> {status_of('VmRSS') / 1024:.1f} MiB")
for c in socks: c.close()

# 4. event streams per user
def stream(user, pw):
    c = socket.create_connection(("127.0.0.1", port))
    c.sendall(f"GET /api/v3.1/maintenance/events HTTP/1.1\r\nHost: x\r\nAuthorization: {auth(user, pw)}\r\nTenant: default_tenant\r\n\r\n".encode())
    return c, c.recv(64).split(b"\r\n")[0].decode()
mine = [stream("mallory", "m-secret") for _ in range(17)]
other = stream("admin", "bench-secret")
print(f"4. one user's 17 event streams: {sum('200' in s for _, s in mine[:16])} of 16 served, the 17th: {mine[16][1]}; another user: {other[1]}")
PY
