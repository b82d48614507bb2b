"""schemathesis against a live `drydock serve`, in every maintenance state.

Started by scripts/api-fuzz.sh (which installs schemathesis into the test virtualenv
and builds drydock). Starts its own server on a free loopback port with a fresh data
directory, then runs schemathesis with a sys_admin's credentials — Basic for the API,
and a console session (signed in through the console's own form, POST /console/login)
for /console, whose changes also carry the session's CSRF token:

  1. deactivated;
  2. activating (a long `sleep` execution holds it there; the pass's status reports
     and cancellations go to an execution made for them, see schemathesis.toml);
  3. activated (what was left is force-cancelled);
  4. the maintenance actions themselves (API and console), from activated.

Each pass runs every phase to its end — examples (the document has none, so it is
skipped), coverage, fuzzing (FUZZ_EXAMPLES per operation), stateful — bounded by
examples, not by a clock; a pass that runs past FUZZ_PASS_TIMEOUT fails the run
instead of being cut short silently. After a state's pass the state must not have moved.

schemathesis checks every answer against the document (status codes, headers, bodies
and content types as documented, invalid input refused, valid input accepted where a
schema can say what valid is, no 5xx). The only 5xx a pass accepts is the maintenance
refusal its state explains: while activating a 503 whose body is the reference's
error shape with `entering_maintenance_mode`, while activated the same with
`maintenance_mode_active`, in the other two passes none. schemathesis' own
`not_a_server_error` is told to let 503 through only in those two passes, and only
because this file's check `maintenance_refusal_explained` (loaded into schemathesis
through SCHEMATHESIS_HOOKS) then fails every 503 that is not that refusal. Then the
server must still be running, the admin must still sign in, no panic may be in its
log, and the state it reports must be the state it reads back after a restart
(nothing half-written). The server is stopped at the end, whatever happened.

Environment: DRYDOCK_BIN (the binary), FUZZ_EXAMPLES (per operation in the fuzzing
phase, 8), FUZZ_SECONDS (unset: each phase once; a number: schemathesis' --max-time
for each pass, which then keeps fuzzing and stateful going until it is spent),
FUZZ_PASS_TIMEOUT (seconds a pass may take before the run fails, 240, or
FUZZ_SECONDS + 120), FUZZ_SEED (fixed by default, so CI runs are repeatable;
`random` for a new one), FUZZ_REPORT_DIR (JUnit reports).
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
ST = os.path.join(os.path.dirname(sys.executable), "st")
EXAMPLES = os.environ.get("FUZZ_EXAMPLES", "8")
SECONDS = os.environ.get("FUZZ_SECONDS", "")
PASS_TIMEOUT = float(os.environ.get("FUZZ_PASS_TIMEOUT") or (int(SECONDS) + 120 if SECONDS else 240))
SEED = os.environ.get("FUZZ_SEED", "20261202")
REPORTS = os.environ.get("FUZZ_REPORT_DIR", os.path.join(tempfile.gettempdir(), "drydock-api-fuzz"))
ADMIN_PASSWORD = "fuzz-admin-secret"
FUZZER = ("fuzzer", "fuzzer-secret")

# What this file hands to the schemathesis process it loads itself into as hooks.
ENV_REFUSAL = "DRYDOCK_FUZZ_REFUSAL"  # the error_code a 503 may carry in this pass ("" none)
ENV_CSRF = "DRYDOCK_FUZZ_CSRF"  # the console session's CSRF token
# Read by schemathesis.toml: the console session's Cookie header, and a second
# session's for /console/logout alone (so signing out never ends the run's session).
ENV_COOKIE = "DRYDOCK_FUZZ_COOKIE"
ENV_LOGOUT_COOKIE = "DRYDOCK_FUZZ_LOGOUT_COOKIE"
# Read by schemathesis.toml: the one execution the run's reports and cancellations go
# to (never the `sleep` that holds the manager activating).
ENV_EXECUTION = "DRYDOCK_FUZZ_EXECUTION"
# The error_code of the refusal each maintenance state explains.
REFUSALS = {"activating": "entering_maintenance_mode", "activated": "maintenance_mode_active"}


# ---------------------------------------------------------------------------------
# Hooks: schemathesis imports this file (SCHEMATHESIS_HOOKS) into its own process.

if __name__ != "__main__":
    import schemathesis

    @schemathesis.check
    def maintenance_refusal_explained(ctx, response, case):
        """A 503 is accepted only as the maintenance refusal of the pass's state."""
        if response.status_code != 503:
            return None
        expected = os.environ.get(ENV_REFUSAL, "")
        try:
            body = json.loads(response.content)
        except (TypeError, ValueError):
            body = None
        code = body.get("error_code") if isinstance(body, dict) else None
        if not expected:
            raise AssertionError(f"503 where no state explains one (error_code {code!r}): {response.text[:300]}")
        shape = isinstance(body, dict) and {"message", "error_code", "server_traceback"} <= body.keys()
        if not shape or code != expected or not isinstance(body.get("message"), str):
            raise AssertionError(
                f"503 that is not this state's maintenance refusal (expected the reference error shape "
                f"with error_code {expected!r}, got {code!r}): {response.text[:300]}"
            )
        return None

    @schemathesis.hook
    def before_call(context, case, kwargs):
        """The console: a change carries the session's CSRF token where the generated
        request has the field (or header) for it; without one it is still refused."""
        if not case.operation.path.startswith("/console"):
            return
        token = os.environ.get(ENV_CSRF, "")
        if isinstance(case.body, dict) and "csrf" in case.body:
            case.body["csrf"] = token
        if case.headers and "X-CSRF-Token" in case.headers:
            case.headers["X-CSRF-Token"] = token


BIN = os.environ.get("DRYDOCK_BIN", "")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, data):
        self.data = data
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(data, "server.log")
        self.proc = None

    def start(self):
        env = dict(os.environ, DRYDOCK_ADMIN_PASSWORD=ADMIN_PASSWORD)
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen(
            [BIN, "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", os.path.join(self.data, "db")],
            stdout=subprocess.DEVNULL, stderr=log, env=env,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                fail(f"drydock exited at start ({self.proc.returncode})")
            try:
                if requests.get(self.base + "/api/v3.1/ok", timeout=1).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        fail("drydock did not answer within 60 s")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()


server = None


def fail(message):
    print(f"api-fuzz: FAILED: {message}", file=sys.stderr)
    if server is not None:
        print("--- drydock server log (last 40 lines) ---", file=sys.stderr)
        print("\n".join(server.log().splitlines()[-40:]), file=sys.stderr)
    sys.exit(1)


def call(method, path, auth=("admin", ADMIN_PASSWORD), expect=(200,), **kw):
    r = requests.request(method, server.base + path, auth=auth, timeout=30, **kw)
    if r.status_code not in expect:
        fail(f"{method} {path} answered {r.status_code} (expected {expect}): {r.text[:300]}")
    return r


def state():
    return call("GET", "/api/v3.1/maintenance").json()["status"]


def wait_for(status, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if state() == status:
            return
        time.sleep(0.1)
    fail(f"maintenance did not become {status} within {seconds} s (it is {state()})")


def unfinished():
    q = "&".join(f"status={s}" for s in ["pending", "started", "queued", "scheduled", "cancelling", "force_cancelling", "kill_cancelling"])
    return call("GET", f"/api/v3.1/executions?{q}&_size=10000").json()["items"]


def console_session():
    """Sign the fuzzer in through the console's form: (the Cookie header, the CSRF token)."""
    r = requests.post(server.base + "/console/login", data={"username": FUZZER[0], "password": FUZZER[1]},
                      allow_redirects=False, timeout=30)
    session = r.cookies.get("drydock_session")
    if r.status_code != 303 or not session:
        fail(f"the console sign-in answered {r.status_code} without a session: {r.text[:300]}")
    cookie = f"drydock_session={session}"
    page = requests.get(server.base + "/console", headers={"Cookie": cookie}, timeout=30).text
    m = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    if not m:
        fail("the console page has no CSRF token for a sys_admin's session")
    return cookie, m.group(1)


def target_execution():
    """A fresh execution for the pass to report on and cancel: a workflow no worker
    runs, so it stays pending until the pass moves it."""
    return call("POST", "/api/v3.1/executions", json={"deployment_id": "fuzz-target", "workflow_id": "fuzz-target"},
                expect=(201,)).json()["id"]


def schemathesis(name, refusal, execution, *selection):
    """One schemathesis pass; `refusal` is the error_code of the only 503 it accepts
    (None: no 503), `execution` the one execution it may change. The server must be
    alive after it, and (but for the maintenance actions' pass) in the same state."""
    status = state()
    print(f"\n==> schemathesis: {name} (state {status}; 503 accepted: {refusal or 'none'})", flush=True)
    os.makedirs(REPORTS, exist_ok=True)
    with open(os.path.join(HERE, "schemathesis.toml")) as f:
        config = f.read()
    if refusal:
        # not_a_server_error lets a 503 through; maintenance_refusal_explained (above)
        # then fails every 503 that is not this state's refusal.
        config += '\n[checks.not_a_server_error]\nexpected-statuses = ["2XX", "3XX", "4XX", "503"]\n'
    cookie, csrf = console_session()
    logout_cookie, _ = console_session()
    env = dict(os.environ, SCHEMATHESIS_HOOKS=os.path.abspath(__file__), **{
        ENV_REFUSAL: refusal or "", ENV_CSRF: csrf, ENV_COOKIE: cookie, ENV_LOGOUT_COOKIE: logout_cookie,
        ENV_EXECUTION: execution})
    config_path = os.path.join(REPORTS, f"{name}.toml")
    with open(config_path, "w") as f:
        f.write(config)
    cmd = [
        ST, "--config-file", config_path, "run", server.base + "/api/v3.1/openapi.json",
        "--auth", f"{FUZZER[0]}:{FUZZER[1]}",
        "--max-examples", EXAMPLES,
        # One worker: hypothesis parses lambdas with `ast`, which CPython 3.11 does not do
        # safely from several threads at once (a SystemError seen here with two).
        "--workers", "1", "--no-color",
        "--report", "junit", "--report-junit-path", os.path.join(REPORTS, f"{name}.xml"),
        # Event streams stay open by design; the end-to-end tests follow them.
        "--exclude-path-regex", "/events$",
        *selection,
    ]
    if SECONDS:
        cmd += ["--max-time", SECONDS]
    if SEED != "random":
        cmd += ["--seed", SEED]
    started = time.monotonic()
    proc = subprocess.Popen(cmd, env=env)
    try:
        rc = proc.wait(timeout=PASS_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        fail(f"the {name} pass did not finish within {PASS_TIMEOUT:.0f} s (FUZZ_PASS_TIMEOUT)")
    print(f"api-fuzz: the {name} pass took {time.monotonic() - started:.0f} s", flush=True)
    if server.proc.poll() is not None:
        fail(f"drydock died during the {name} pass ({server.proc.returncode})")
    if rc != 0:
        fail(f"schemathesis found failures in the {name} pass (report: {REPORTS}/{name}.xml)")
    if name != "maintenance-actions" and state() != status:
        fail(f"the state moved from {status} to {state()} during the {name} pass")


def main():
    global server
    if not BIN:
        sys.exit("api-fuzz: set DRYDOCK_BIN to the drydock binary")
    data = tempfile.mkdtemp(prefix="drydock-api-fuzz-")
    server = Server(data)
    try:
        server.start()
        doc = requests.get(server.base + "/api/v3.1/openapi.json", timeout=10).json()
        from openapi_spec_validator import validate

        validate(doc)  # raises with the reason if it is not valid OpenAPI 3.1
        print(f"api-fuzz: the document is valid OpenAPI {doc['openapi']} ({len(doc['paths'])} paths)")

        call("PUT", "/api/v3.1/users", json={"username": FUZZER[0], "password": FUZZER[1], "role": "sys_admin"}, expect=(201,))
        call("PUT", "/api/v3.1/users", json={"username": "fuzz-target", "password": "target-secret"}, expect=(201,))
        # The maintenance actions (the API's and the console's) change the state a pass
        # is about; they have a pass of their own.
        actions = ("--exclude-path", "/api/v3.1/maintenance/{action}", "--exclude-path", "/console/maintenance/{action}")

        call("PUT", "/api/v3.1/deployments/fuzz-target", json={}, expect=(201,))

        schemathesis("deactivated", None, target_execution(), *actions)

        call("PUT", "/api/v3.1/deployments/fuzz-hold", json={}, expect=(201,))
        hold = call("POST", "/api/v3.1/executions", json={"deployment_id": "fuzz-hold", "workflow_id": "sleep", "parameters": {"seconds": 3600}}, expect=(201,)).json()
        target = target_execution()
        call("POST", "/api/v3.1/maintenance/activate", json={"reason": "api fuzzing"}, expect=(200, 304))
        wait_for("activating")
        schemathesis("activating", REFUSALS["activating"], target, *actions)

        for e in unfinished():
            call("POST", f"/api/v3.1/executions/{e['id']}", json={"action": "force-cancel"}, expect=(200, 400))
        wait_for("activated")
        schemathesis("activated", REFUSALS["activated"], target, *actions)

        # A sys_admin always reaches the maintenance actions: no 503 in any state.
        schemathesis("maintenance-actions", None, target, "--include-path", "/api/v3.1/maintenance/{action}",
                     "--include-path", "/console/maintenance/{action}")

        # Afterwards: alive, the admin still signs in, and what it says is what it
        # reads back after a restart.
        # (The last pass may leave any state; deactivating ends each.)
        call("POST", "/api/v3.1/maintenance/deactivate", expect=(200, 304))
        wait_for("deactivated")
        before = {
            "maintenance": call("GET", "/api/v3.1/maintenance").json(),
            "executions": call("GET", "/api/v3.1/executions?_size=10000&_sort=id").json()["items"],
            "users": call("GET", "/api/v3.1/users?_size=10000").json()["items"],
            "policy": call("GET", "/api/v3.1/policies/active").json()["id"],
        }
        if not any(e["id"] == hold["id"] for e in before["executions"]):
            fail("the execution that held maintenance activating is gone")
        server.stop()
        if "panicked" in server.log():
            fail("the server log has a panic")
        server.start()
        after = {
            "maintenance": call("GET", "/api/v3.1/maintenance").json(),
            "executions": call("GET", "/api/v3.1/executions?_size=10000&_sort=id").json()["items"],
            "users": call("GET", "/api/v3.1/users?_size=10000").json()["items"],
            "policy": call("GET", "/api/v3.1/policies/active").json()["id"],
        }
        for key in before:
            if before[key] != after[key]:
                fail(f"{key} differs after a restart:\n{json.dumps(before[key])[:600]}\n{json.dumps(after[key])[:600]}")
        print(f"\napi-fuzz: passed in every maintenance state; {len(before['executions'])} executions and "
              f"{len(before['users'])} users read back the same after a restart")
    finally:
        server.stop()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
