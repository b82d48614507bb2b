"""drydock's default policy (cloudify-default 1.2.0 rules) in Python, for contract
drydock:policy@1.0.0. A line-by-line port of policy-wasm/default/src/rules.rs.

Build: `drydock policy build DIR` (componentize-py 0.25.1 with --stub-wasi, fetched into a
cache on first use: the component imports nothing). Test: `drydock policy test`.
"""

import wit_world
from wit_world import (
    Decision,
    Decision_Allow,
    Decision_Deny,
    Denial,
    Input,
    MaintenanceState,
    Request,
)

NAME = "cloudify-default-py"
VERSION = "1.2.0"

# What a refused client reads (Cloudify says "Cloudify manager" here).
MESSAGE = "Your request was rejected since drydock is currently in maintenance mode"
# Error code while activated (the client raises `MaintenanceModeActiveError`).
ACTIVE = "maintenance_mode_active"
# Error code while activating (`MaintenanceModeActivatingError`).
ACTIVATING = "entering_maintenance_mode"

# `Retry-After` when the host announces no end of maintenance: a minute.
RETRY_DEFAULT = 60
# The attributes the host sends.
REASON = "maintenance.reason"
RETRY_AFTER = "maintenance.retry-after"
PARENT = "parent-execution"

# First path segments still served while activated.
ALLOWED_WHILE_ACTIVATED = frozenset(
    [
        "status",
        "version",
        "ok",
        "maintenance",
        "license",
        "config",
        "managers",
        "brokers",
        "db-nodes",
        "cluster",
        "cluster-status",
        "file-server-auth",
        "snapshots",
        "snapshot-status",
    ]
)

U32_MAX = 0xFFFF_FFFF
_DIGITS = frozenset("0123456789")


def attribute(input: Input, key: str):
    """The first attribute named `key` (as the Rust SDK's `Input::attribute`)."""
    for k, v in input.attributes:
        if k == key:
            return v
    return None


def parse_u32(s: str):
    """Rust's `str::parse::<u32>()`: an optional `+`, then ASCII digits only, no
    spaces, no `_`, no overflow. `int()` is laxer, so it is not used alone."""
    if s.startswith("+"):
        s = s[1:]
    if not s or not all(c in _DIGITS for c in s):
        return None
    n = int(s)
    return n if n <= U32_MAX else None


def decide(input: Input) -> Decision:
    if admin_bypass(input):
        return Decision_Allow()
    state = input.state
    if state == MaintenanceState.DEACTIVATED:
        return Decision_Allow()
    if state == MaintenanceState.ACTIVATED and not allowed_while_activated(input.request):
        return refuse(input, ACTIVE)
    # A running execution's child execution is part of what activating waits for.
    if (
        state == MaintenanceState.ACTIVATING
        and starts_work(input.request)
        and not is_child_execution(input)
    ):
        return refuse(input, ACTIVATING)
    return Decision_Allow()


def is_child_execution(input: Input) -> bool:
    """A new execution started by a running one: the host verified the parent and
    names it. Only an execution: other work (a deployment update) waits like any."""
    parent = attribute(input, PARENT)
    return (
        parent is not None
        and parent != ""
        and input.request.method == "POST"
        and input.request.route.strip("/") == "executions"
    )


def announced_retry(input: Input):
    """The seconds until the announced end, as the host counts them (None if absent,
    unparseable or 0)."""
    s = attribute(input, RETRY_AFTER)
    if s is None:
        return None
    n = parse_u32(s)
    return n if n is not None and n > 0 else None


def refuse(input: Input, error_code: str) -> Decision:
    reason = attribute(input, REASON)
    message = f"{MESSAGE}: {reason}" if reason else MESSAGE
    retry = announced_retry(input)
    return Decision_Deny(
        Denial(
            status=503,
            error_code=error_code,
            message=message,
            retry_after=RETRY_DEFAULT if retry is None else retry,
        )
    )


def admin_bypass(input: Input) -> bool:
    """The bypass header counts only from someone who may toggle maintenance."""
    return input.caller.bypass and input.caller.role == "sys_admin"


def allowed_while_activated(req: Request) -> bool:
    """Exact first-segment match."""
    return req.first_segment in ALLOWED_WHILE_ACTIVATED


def starts_work(req: Request) -> bool:
    """Requests that would start new work, refused while running work drains."""
    segs = req.route.strip("/").split("/")
    n = len(segs)
    first = segs[0]
    if n == 3 and first == "snapshots" and segs[2] == "restore":
        return True
    if (n == 1 and first == "executions") or (
        n == 2 and (first == "deployments" or first == "snapshots")
    ):
        return writes(req)
    if first == "deployment-modifications":
        return writes(req)
    return False


def writes(req: Request) -> bool:
    """POST, PUT or PATCH."""
    return req.method in ("POST", "PUT", "PATCH")


class WitWorld(wit_world.WitWorld):
    def name(self) -> str:
        return NAME

    def version(self) -> str:
        return VERSION

    def decide(self, input: Input) -> Decision:
        return decide(input)
