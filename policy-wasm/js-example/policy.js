// drydock's default policy (cloudify-default 1.2.0 rules) in JavaScript, for contract
// drydock:policy@1.0.0. A line-by-line port of policy-wasm/default/src/rules.rs.
// Build: `drydock policy build DIR` (componentize-js 0.23.0 without WASI features,
// fetched into a cache on first use: the component imports nothing).
//
// Mapping (componentize-js / jco): the world's exported functions `name`, `version`,
// `decide` are this module's exports; records are objects with camelCase fields;
// enums are their WIT case names as strings; `variant decision` is
// `{tag: 'allow'}` or `{tag: 'deny', val: denial}`; `option<u32>` is a number or
// undefined; `tuple<string, string>` is a two-element array.

const NAME = 'cloudify-default-js';
const VERSION = '1.2.0';

/** What a refused client reads (Cloudify says "Cloudify manager" here). */
const MESSAGE = 'Your request was rejected since drydock is currently in maintenance mode';
/** Error code while activated (the client raises `MaintenanceModeActiveError`). */
const ACTIVE = 'maintenance_mode_active';
/** Error code while activating (`MaintenanceModeActivatingError`). */
const ACTIVATING = 'entering_maintenance_mode';

/** `Retry-After` when the host announces no end of maintenance: a minute. */
const RETRY_DEFAULT = 60;
/** The attributes the host sends. */
const REASON = 'maintenance.reason';
const RETRY_AFTER = 'maintenance.retry-after';
const PARENT = 'parent-execution';

/** First path segments still served while activated. */
const ALLOWED_WHILE_ACTIVATED = new Set([
  'status',
  'version',
  'ok',
  'maintenance',
  'license',
  'config',
  'managers',
  'brokers',
  'db-nodes',
  'cluster',
  'cluster-status',
  'file-server-auth',
  'snapshots',
  'snapshot-status',
]);

const U32_MAX = 0xffffffff;

/** The first attribute named `key` (as the Rust SDK's `Input::attribute`). */
function attribute(input, key) {
  for (const [k, v] of input.attributes) {
    if (k === key) return v;
  }
  return undefined;
}

/** Rust's `str::parse::<u32>()`: an optional `+`, then ASCII digits only. */
function parseU32(s) {
  const m = /^\+?([0-9]+)$/.exec(s);
  if (!m) return undefined;
  const n = Number(m[1]); // exact below 2^53; anything past u32 is refused anyway
  return n <= U32_MAX ? n : undefined;
}

/** `str::trim_matches('/')`. */
function trimSlashes(s) {
  let a = 0;
  let b = s.length;
  while (a < b && s.charCodeAt(a) === 47) a++;
  while (b > a && s.charCodeAt(b - 1) === 47) b--;
  return s.slice(a, b);
}

function decideInput(input) {
  if (adminBypass(input)) return { tag: 'allow' };
  switch (input.state) {
    case 'deactivated':
      return { tag: 'allow' };
    case 'activated':
      if (!allowedWhileActivated(input.request)) return refuse(input, ACTIVE);
      return { tag: 'allow' };
    case 'activating':
      // A running execution's child execution is part of what activating waits for.
      if (startsWork(input.request) && !isChildExecution(input)) return refuse(input, ACTIVATING);
      return { tag: 'allow' };
    default:
      return { tag: 'allow' };
  }
}

/** A new execution started by a running one, the host verified the parent. */
function isChildExecution(input) {
  const parent = attribute(input, PARENT);
  return (
    parent !== undefined &&
    parent !== '' &&
    input.request.method === 'POST' &&
    trimSlashes(input.request.route) === 'executions'
  );
}

/** The seconds until the announced end (undefined if absent, unparseable or 0). */
function announcedRetry(input) {
  const s = attribute(input, RETRY_AFTER);
  if (s === undefined) return undefined;
  const n = parseU32(s);
  return n !== undefined && n > 0 ? n : undefined;
}

function refuse(input, errorCode) {
  const reason = attribute(input, REASON);
  const message = reason ? `${MESSAGE}: ${reason}` : MESSAGE;
  const retry = announcedRetry(input);
  return {
    tag: 'deny',
    val: {
      status: 503,
      errorCode,
      message,
      retryAfter: retry === undefined ? RETRY_DEFAULT : retry,
    },
  };
}

/** The bypass header counts only from someone who may toggle maintenance. */
function adminBypass(input) {
  return input.caller.bypass && input.caller.role === 'sys_admin';
}

/** Exact first-segment match. */
function allowedWhileActivated(req) {
  return ALLOWED_WHILE_ACTIVATED.has(req.firstSegment);
}

/** Requests that would start new work, refused while running work drains. */
function startsWork(req) {
  const segs = trimSlashes(req.route).split('/');
  const n = segs.length;
  const first = segs[0];
  if (n === 3 && first === 'snapshots' && segs[2] === 'restore') return true;
  if ((n === 1 && first === 'executions') || (n === 2 && (first === 'deployments' || first === 'snapshots'))) {
    return writes(req);
  }
  if (first === 'deployment-modifications') return writes(req);
  return false;
}

/** POST, PUT or PATCH. */
function writes(req) {
  const m = req.method;
  return m === 'POST' || m === 'PUT' || m === 'PATCH';
}

export function name() {
  return NAME;
}

export function version() {
  return VERSION;
}

export function decide(input) {
  return decideInput(input);
}
