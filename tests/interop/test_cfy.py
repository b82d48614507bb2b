#!/usr/bin/env python3
"""Interop test: the real Cloudify CLI (`cfy` 7.0.5) against a running drydock.

Plain Python script (no pytest).  Usage:

    DRYDOCK_PORT=8080 DRYDOCK_ADMIN_PASSWORD=secret python3 test_cfy_interop.py

It re-executes itself under the venv's python (CFY_VENV, default the
repository's target/interop-venv, which scripts/interop.sh builds) so that it can
also use `cloudify_rest_client` for set-up and for checking the exception class
each error maps to.  It runs the `cfy` of the venv it runs under (or CFY_BIN).

Environment:
  DRYDOCK_PORT             (required) drydock's REST port on 127.0.0.1
  DRYDOCK_ADMIN_PASSWORD   (required) password of the sys_admin user
  DRYDOCK_ADMIN_USER       default "admin"
  DRYDOCK_TENANT           default "default_tenant"
  DRYDOCK_HOLD_SECONDS     default 600: length of the `sleep` executions that
                           keep the manager `activating` while checks run. Only a
                           safety net: the test ends each one itself (the worker's
                           status report, PATCH terminated) once its checks are
                           done, so no check races the clock however slow the
                           machine is
  DRYDOCK_PENDING_WORKFLOW default "hold": a workflow the server accepts but no
                           worker runs, so its execution stays `pending` until
                           cancelled
  CFY_VENV                 default <repository>/target/interop-venv
  CFY_BIN                  default the `cfy` beside the running python

The CLI runs with HOME / CFY_WORKDIR / TMPDIR in a fresh temp dir, so the
user's own ~/.cloudify is never read or written.  Any CLOUDIFY_* auth env
vars are removed from the child environment.

Prints one PASS/FAIL line per check and, last, exactly `N passed, N failed`.
Exit code 0 only when nothing failed.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import uuid

VENV = os.environ.get('CFY_VENV') or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), '..', '..', 'target',
    'interop-venv')

try:
    import cloudify_rest_client  # noqa: F401
except ImportError:
    venv_py = os.path.join(VENV, 'bin', 'python')
    if os.environ.get('_CFY_INTEROP_REEXEC') != '1' and os.path.exists(venv_py):
        os.environ['_CFY_INTEROP_REEXEC'] = '1'
        os.execv(venv_py, [venv_py, os.path.abspath(__file__)] + sys.argv[1:])
    sys.stderr.write('cloudify_rest_client not importable and no venv at '
                     '{0}; install cloudify==7.0.5 there\n'.format(VENV))
    print('0 passed, 1 failed')
    sys.exit(2)

import requests  # noqa: E402  (comes with the venv)
from cloudify_rest_client import CloudifyClient  # noqa: E402
from cloudify_rest_client import exceptions as cfy_exc  # noqa: E402

# --------------------------------------------------------------------------
# configuration

try:
    PORT = int(os.environ['DRYDOCK_PORT'])
    ADMIN_PW = os.environ['DRYDOCK_ADMIN_PASSWORD']
except (KeyError, ValueError):
    sys.stderr.write('set DRYDOCK_PORT and DRYDOCK_ADMIN_PASSWORD\n')
    print('0 passed, 1 failed')
    sys.exit(2)
ADMIN = os.environ.get('DRYDOCK_ADMIN_USER', 'admin')
TENANT = os.environ.get('DRYDOCK_TENANT', 'default_tenant')
HOLD_SECONDS = int(os.environ.get('DRYDOCK_HOLD_SECONDS', '600'))
PENDING_WF = os.environ.get('DRYDOCK_PENDING_WORKFLOW', 'hold')
HOST = '127.0.0.1'
# The CLI of the venv this script runs under: never a fixed path that exists
# only on some machine.
CFY = os.environ.get('CFY_BIN') or os.path.join(
    os.path.dirname(sys.executable), 'cfy')
BASE = 'http://{0}:{1}/api/v3.1'.format(HOST, PORT)

RUN_ID = uuid.uuid4().hex[:8]
DEP = 'interop-dep-' + RUN_ID
BLUEPRINT = 'interop-bp-' + RUN_ID
USER = 'interop-user-' + RUN_ID
USER_PW = 'pw-' + RUN_ID
# step 4b: a second tenant (a name must start with a letter), a member with
# role `user` there, a `viewer`, and a deployment of that tenant
TEAM = 'team-' + RUN_ID
TEAM_USER = 'interop-member-' + RUN_ID
TEAM_VIEWER = 'interop-viewer-' + RUN_ID
TEAM_DEP = 'interop-team-dep-' + RUN_ID

MAINT_TEXT = 'maintenance mode'   # both 503 messages contain this
SERVER_ERR_PREFIX = 'An error occurred on the server'

# --------------------------------------------------------------------------
# tiny harness

PASSED = 0
FAILED = 0


def check(name, cond, detail=''):
    global PASSED, FAILED
    if cond:
        PASSED += 1
        print('PASS  ' + name)
    else:
        FAILED += 1
        print('FAIL  ' + name + (': ' + detail if detail else ''))
    sys.stdout.flush()
    return bool(cond)


def excerpt(text, n=1200):
    text = text.strip()
    if len(text) > n:
        text = text[:n] + ' ...[cut]'
    return '\n      | ' + text.replace('\n', '\n      | ')


WORK = tempfile.mkdtemp(prefix='cfy-interop-')
os.makedirs(os.path.join(WORK, 'tmp'))
CHILD_ENV = {k: v for k, v in os.environ.items()
             if not k.startswith('CLOUDIFY_')
             and k not in ('LOCAL_REST_CERT_FILE', '_CFY_INTEROP_REEXEC')}
CHILD_ENV.update({'HOME': WORK, 'CFY_WORKDIR': WORK,
                  'TMPDIR': os.path.join(WORK, 'tmp'),
                  'LANG': 'C.UTF-8', 'LC_ALL': 'C.UTF-8'})


def cfy(*args, timeout=180):
    """Run the real CLI; return (exit code, stdout+stderr interleaved)."""
    try:
        p = subprocess.run([CFY] + list(args), env=CHILD_ENV, cwd=WORK,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True, timeout=timeout)
        return p.returncode, p.stdout
    except subprocess.TimeoutExpired as e:
        out = e.stdout or ''
        if isinstance(out, bytes):
            out = out.decode(errors='replace')
        return -999, out + '\n[timed out after {0}s]'.format(timeout)


def cfy_bg(*args):
    return subprocess.Popen([CFY] + list(args), env=CHILD_ENV, cwd=WORK,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True)


def expect(name, rc_out, rc=0, contains=(), absent=(), regex=()):
    code, out = rc_out
    problems = []
    if rc is not None and code != rc:
        problems.append('exit code {0} != {1}'.format(code, rc))
    for s in contains:
        if s not in out:
            problems.append('missing {0!r}'.format(s))
    for s in absent:
        if s in out:
            problems.append('unexpected {0!r}'.format(s))
    for r in regex:
        if not re.search(r, out, re.M):
            problems.append('no match for /{0}/'.format(r))
    return check(name, not problems,
                 '; '.join(problems) + excerpt(out) if problems else '')


def client(user=ADMIN, password=ADMIN_PW, headers=None, tenant=TENANT):
    """A REST client; `tenant` is sent as the `Tenant` header."""
    return CloudifyClient(host=HOST, port=PORT, username=user,
                          password=password, tenant=tenant, headers=headers)


ADMIN_CLIENT = client()


def rest_error(fn):
    """Call fn(); return the CloudifyClientError it raised (or None)."""
    try:
        fn()
    except cfy_exc.CloudifyClientError as e:
        return e
    return None


def maint_status():
    return ADMIN_CLIENT.maintenance_mode.status().status


def wait_for(pred, timeout, interval=0.25):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            v = pred()
            if v:
                return v
        except Exception:
            pass
        time.sleep(interval)
    return None


# helper reads go through the sys_admin bypass so that they also work while
# the manager is activated (executions are blocked then, even GETs)
INSPECT_CLIENT = client(headers={'X-BYPASS-MAINTENANCE': 'true'})


def exec_status(exec_id):
    try:
        return INSPECT_CLIENT.executions.get(exec_id).status
    except cfy_exc.CloudifyClientError as e:
        return 'unknown ({0!r})'.format(e)


def field_order_ok(out, labels):
    pos = [out.find('\t{0}:\t'.format(lb)) for lb in labels]
    return all(p >= 0 for p in pos) and pos == sorted(pos)


# --------------------------------------------------------------------------
# the scenario

created_execs = []
# what step 4b makes, registered before each attempt so that cleanup() removes
# it however far the step got: (tenant, id) pairs for resources outside TENANT
created_tenants = []
created_users = []
tenant_deps = []
tenant_execs = []


def forbidden(e):
    """A CloudifyClientError that is Cloudify's 403 `forbidden_error`."""
    return isinstance(e, cfy_exc.ForbiddenError) and e.status_code == 403 \
        and e.error_code == 'forbidden_error'


def not_found(e):
    """A CloudifyClientError that is Cloudify's 404 `not_found_error`."""
    return e is not None and e.status_code == 404 \
        and e.error_code == 'not_found_error'


def end_tenant_executions():
    """Kill the unfinished executions made in other tenants (quietly)."""
    for tenant, ex_id in tenant_execs:
        try:
            c = client(headers={'X-BYPASS-MAINTENANCE': 'true'},
                       tenant=tenant)
            ex = c.executions.get(ex_id)
            if ex.status not in ex.END_STATES:
                c.executions.cancel(ex_id, kill=True)
                wait_for(lambda: c.executions.get(ex_id).status
                         in ex.END_STATES, 10)
        except Exception:
            pass


def tenancy():
    """Step 4b: tenants through the CLI, and the `Tenant` header's scoping."""
    # create the tenant
    created_tenants.append(TEAM)
    if not expect('cfy tenants create TEAM', cfy('tenants', 'create', TEAM),
                  0, contains=['Tenant `{0}` created'.format(TEAM)]):
        return   # nothing below works without it

    # a member with role `user` through `users create -t -l`, and a viewer
    # added afterwards through `tenants add-user`
    team_pw = 'pw-member-' + RUN_ID
    viewer_pw = 'pw-viewer-' + RUN_ID
    created_users.extend([TEAM_USER, TEAM_VIEWER])
    expect('cfy users create U2 -t TEAM -l user',
           cfy('users', 'create', TEAM_USER, '-p', team_pw,
               '-t', TEAM, '-l', 'user'), 0,
           contains=['User `{0}` created with `default` security role'
                     .format(TEAM_USER),
                     'User `{0}` added successfully to tenant `{1}` with '
                     '`user` role'.format(TEAM_USER, TEAM)])
    expect('cfy users create V (no tenant)',
           cfy('users', 'create', TEAM_VIEWER, '-p', viewer_pw), 0,
           contains=['User `{0}` created with `default` security role'
                     .format(TEAM_VIEWER)],
           absent=['added successfully'])
    expect('cfy tenants add-user V -t TEAM -r viewer',
           cfy('tenants', 'add-user', TEAM_VIEWER, '-t', TEAM,
               '-r', 'viewer'), 0,
           contains=['User `{0}` added successfully to tenant `{1}` with '
                     '`viewer` role'.format(TEAM_VIEWER, TEAM)])

    # list and get (with the members and their roles)
    expect('cfy tenants list shows TEAM', cfy('tenants', 'list'), 0,
           contains=['Listing all tenants...', 'Tenants:', TEAM, TENANT],
           regex=[r'^Showing \d+ of \d+ tenants$',
                  r'^\|\s+name\s+\|\s+groups\s+\|\s+users\s+\|$'])
    expect('cfy tenants get TEAM --get-data shows its members',
           cfy('tenants', 'get', TEAM, '--get-data'), 0,
           contains=['Getting info for tenant `{0}`...'.format(TEAM),
                     'Requested tenant info:', TEAM,
                     "'{0}': 'user'".format(TEAM_USER),
                     "'{0}': 'viewer'".format(TEAM_VIEWER)],
           regex=[r'\|\s+direct users\s+\|\s+group users\s+\|$'])

    # a second add-user: the server's 409 is the CLI's "already associated"
    expect('cfy tenants add-user U2 again -> "already associated" (409)',
           cfy('tenants', 'add-user', TEAM_USER, '-t', TEAM, '-r', 'user'),
           0, contains=['User `{0}` is already associated with tenant `{1}`'
                        .format(TEAM_USER, TEAM)],
           absent=['added successfully', SERVER_ERR_PREFIX])
    e = rest_error(lambda: ADMIN_CLIENT.tenants.add_user(TEAM_USER, TEAM,
                                                         'user'))
    check('REST add_user again -> 409 conflict_error',
          e is not None and e.status_code == 409
          and e.error_code == 'conflict_error', repr(e))

    # U2 works in TEAM: a deployment and an execution that stays pending
    member = client(TEAM_USER, team_pw, tenant=TEAM)
    tenant_deps.append((TEAM, TEAM_DEP))
    e = rest_error(lambda: member.deployments.create(BLUEPRINT, TEAM_DEP))
    if not check('U2 creates a deployment in TEAM', e is None, repr(e)):
        return
    started = []
    e = rest_error(lambda: started.append(
        member.executions.start(TEAM_DEP, PENDING_WF)))
    tenant_execs.extend((TEAM, x.id) for x in started)
    if not check('U2 starts an execution in TEAM', e is None and started,
                 repr(e)):
        return
    team_exec = started[0].id

    def team_status():
        try:
            return member.executions.get(team_exec).status
        except cfy_exc.CloudifyClientError as exc:
            return 'unknown ({0!r})'.format(exc)
    ids = []
    e = rest_error(lambda: ids.extend(
        d.id for d in member.deployments.list()))
    check('U2 lists its deployment in TEAM', e is None and TEAM_DEP in ids,
          repr(e) if e else str(ids))

    # seen from TENANT, TEAM's deployment and execution do not exist: for
    # USER (a member of TENANT) and for the sys_admin alike
    user_client = client(USER, USER_PW)
    ids = []
    e = rest_error(lambda: ids.extend(
        d.id for d in user_client.deployments.list()))
    check('USER lists deployments in TENANT, without TEAM\'s',
          e is None and TEAM_DEP not in ids, repr(e) if e else str(ids))
    e = rest_error(lambda: user_client.deployments.get(TEAM_DEP))
    check('USER gets TEAM\'s deployment from TENANT -> 404 not_found_error',
          not_found(e), repr(e))
    e = rest_error(lambda: ADMIN_CLIENT.deployments.get(TEAM_DEP))
    check('sys_admin gets TEAM\'s deployment from TENANT -> 404',
          not_found(e), repr(e))
    e = rest_error(lambda: user_client.executions.get(team_exec))
    check('USER gets TEAM\'s execution from TENANT -> 404',
          not_found(e), repr(e))
    e = rest_error(lambda: user_client.executions.cancel(team_exec))
    check('USER cancels TEAM\'s execution from TENANT -> 404',
          not_found(e), repr(e))
    st = team_status()
    check('... and TEAM\'s execution is still unfinished', st in (
        'pending', 'queued', 'started'), st)

    # U2 is not a member of TENANT: 403, naming the action and the tenant
    e = rest_error(lambda: client(TEAM_USER, team_pw).deployments.list())
    check('U2 lists deployments in TENANT (not a member) -> 403 '
          'forbidden_error', forbidden(e)
          and 'deployment_list' in str(e) and TENANT in str(e), repr(e))

    # the viewer reads in TEAM but may not create, start or cancel
    viewer = client(TEAM_VIEWER, viewer_pw, tenant=TEAM)
    ids = []
    e = rest_error(lambda: ids.extend(
        d.id for d in viewer.deployments.list()))
    check('viewer lists deployments in TEAM', e is None and TEAM_DEP in ids,
          repr(e) if e else str(ids))
    e = rest_error(lambda: viewer.executions.get(team_exec))
    check('viewer gets TEAM\'s execution', e is None, repr(e))
    names = []
    e = rest_error(lambda: names.extend(
        t.name for t in viewer.tenants.list()))
    check('a non-admin lists only its own tenants',
          e is None and names == [TEAM], repr(e) if e else str(names))
    e = rest_error(lambda: viewer.tenants.get(TEAM))
    check('viewer gets its tenant -> 403 (tenant_get is not a viewer\'s)',
          forbidden(e), repr(e))
    viewer_dep = 'interop-viewer-dep-' + RUN_ID
    tenant_deps.append((TEAM, viewer_dep))
    e = rest_error(lambda: viewer.deployments.create(BLUEPRINT, viewer_dep))
    check('viewer creates a deployment -> 403 forbidden_error',
          forbidden(e) and 'deployment_create' in str(e), repr(e))
    started = []
    e = rest_error(lambda: started.append(
        viewer.executions.start(TEAM_DEP, PENDING_WF)))
    tenant_execs.extend((TEAM, x.id) for x in started)
    check('viewer starts an execution -> 403 forbidden_error',
          forbidden(e) and 'execution_start' in str(e), repr(e))
    e = rest_error(lambda: viewer.executions.cancel(team_exec))
    check('viewer cancels an execution -> 403 forbidden_error',
          forbidden(e), repr(e))

    # a tenant that does not exist: 403 (not 404), for a sys_admin too
    ghost = 'no-such-tenant-' + RUN_ID
    for who, pw in ((ADMIN, ADMIN_PW), (USER, USER_PW)):
        e = rest_error(lambda: client(who, pw, tenant=ghost)
                       .deployments.list())
        check('{0} with an unknown tenant -> 403 "invalid tenant name"'
              .format(who), forbidden(e) and 'invalid tenant name' in str(e),
              repr(e))

    # remove the viewer (twice: the second is the CLI's "not associated");
    # it has no access to TEAM afterwards
    expect('cfy tenants remove-user V -t TEAM',
           cfy('tenants', 'remove-user', TEAM_VIEWER, '-t', TEAM), 0,
           contains=['User `{0}` removed successfully from tenant `{1}`'
                     .format(TEAM_VIEWER, TEAM)])
    expect('cfy tenants remove-user V again -> "not associated" (404)',
           cfy('tenants', 'remove-user', TEAM_VIEWER, '-t', TEAM), 0,
           contains=['User `{0}` is not associated with tenant `{1}`'
                     .format(TEAM_VIEWER, TEAM)],
           absent=['removed successfully', SERVER_ERR_PREFIX])
    e = rest_error(lambda: viewer.deployments.list())
    check('removed viewer lists deployments in TEAM -> 403',
          forbidden(e), repr(e))

    # tear down: end the execution (a pending one is cancelled at once, as in
    # step 17), refuse deleting a tenant that still has a deployment, delete
    # the deployment, then the tenant and its users
    e = rest_error(lambda: member.executions.cancel(team_exec))
    check('U2 cancels its execution in TEAM', e is None, repr(e))
    st = wait_for(lambda: team_status() == 'cancelled' and 'cancelled', 10)
    if not check('TEAM\'s execution reaches cancelled', st == 'cancelled',
                 team_status()):
        end_tenant_executions()   # kill, as step 17 falls back to
    expect('cfy tenants delete TEAM with a deployment left -> 409',
           cfy('tenants', 'delete', TEAM), 1,
           contains=['Deleting tenant `{0}`...'.format(TEAM),
                     '{0}: 409: '.format(SERVER_ERR_PREFIX)],
           absent=['Tenant removed'])
    e = rest_error(lambda: member.deployments.delete(TEAM_DEP))
    check('U2 deletes its deployment in TEAM', e is None, repr(e))
    expect('cfy tenants delete TEAM', cfy('tenants', 'delete', TEAM), 0,
           contains=['Deleting tenant `{0}`...'.format(TEAM),
                     'Tenant removed'])
    expect('deleted tenant gone from cfy tenants list',
           cfy('tenants', 'list'), 0, contains=['Tenants:', TENANT],
           absent=[TEAM])
    e = rest_error(lambda: member.deployments.list())
    check('U2 in the deleted TEAM -> 403 "invalid tenant name"',
          forbidden(e) and 'invalid tenant name' in str(e), repr(e))
    for name in (TEAM_USER, TEAM_VIEWER):
        expect('cfy users delete {0}'.format(name),
               cfy('users', 'delete', name), 0,
               contains=['Deleting user `{0}`...'.format(name),
                         'User removed'])


def scenario():
    # 0. server reachable at all, and not left in maintenance by someone else
    st = rest_error(lambda: ADMIN_CLIENT.manager.get_status())
    if not check('REST GET /status answers for admin', st is None,
                 str(st)):
        return
    if maint_status() != 'deactivated':
        print('note: server was in maintenance mode; deactivating first')
        ADMIN_CLIENT.maintenance_mode.deactivate()

    # 1. cfy profiles use
    r = cfy('profiles', 'use', HOST, '--rest-port', str(PORT),
            '-u', ADMIN, '-p', ADMIN_PW, '-t', TENANT)
    if not expect('cfy profiles use', r, 0,
                  contains=['Using manager {0} with port {1}'.format(HOST,
                                                                    PORT),
                            'Initialization completed successfully'],
                  absent=["Can't use manager", 'Traceback',
                          'Adding cluster node']):
        return   # nothing else can work without a profile

    # 2. cfy --version, cfy status (deactivated)
    expect('cfy --version shows client and manager', cfy('--version'), 0,
           contains=['Cloudify CLI 7.0.5', 'Cloudify Manager ',
                     '[ip={0}]'.format(HOST), ' edition'])
    expect('cfy status (deactivated)', cfy('status'), 0,
           contains=['Retrieving manager services status... [ip={0}]'
                     .format(HOST), 'Services:'],
           regex=[r'^\|\s+service\s+\|\s+status\s+\|$'],
           absent=['Maintenance mode is', 'not responding', 'unauthorized'])

    # 3. maintenance-mode status (deactivated)
    r = cfy('maintenance-mode', 'status')
    expect('maintenance-mode status (deactivated)', r, 0,
           contains=['Maintenance Mode Status:', '\tStatus:\tdeactivated'],
           absent=['Activated At', 'Requested By', 'running or pending',
                   'INFO - Cloudify Manager is currently in maintenance'])

    # 4. users create (non-admin user, used for 403 / bypass checks later)
    expect('cfy users create (role default)',
           cfy('users', 'create', USER, '-p', USER_PW, '-r', 'default'), 0,
           contains=['User `{0}` created with `default` security role'
                     .format(USER)])
    # a new user belongs to no tenant: make it a member of TENANT (role
    # `user`), the non-admin of TENANT that step 4b looks from
    expect('cfy tenants add-user USER -t TENANT -r user',
           cfy('tenants', 'add-user', USER, '-t', TENANT, '-r', 'user'), 0,
           contains=['User `{0}` added successfully to tenant `{1}` with '
                     '`user` role'.format(USER, TENANT)])
    user_client = client(USER, USER_PW)
    e = rest_error(lambda: user_client.maintenance_mode.activate())
    check('non-admin activate -> 403 ForbiddenError',
          isinstance(e, cfy_exc.ForbiddenError) and e.status_code == 403,
          repr(e))
    if e is None:   # it worked?! undo
        ADMIN_CLIENT.maintenance_mode.deactivate()
    e = rest_error(lambda: client(ADMIN, ADMIN_PW + 'x').manager.get_status())
    check('bad password -> 401 UserUnauthorizedError',
          isinstance(e, cfy_exc.UserUnauthorizedError)
          and e.status_code == 401, repr(e))

    # 4b. tenants: a second tenant, its members, and what each of them (and
    # USER of TENANT) may see and do; then the tenant is deleted again.  What
    # an early return leaves running in it is ended at once, so that no
    # execution of TEAM holds the maintenance steps below `activating`.
    tenancy()
    end_tenant_executions()

    # 5. deployments create (CLI; server must accept an unknown blueprint id)
    expect('cfy deployments create -b BP DEP',
           cfy('deployments', 'create', '-b', BLUEPRINT, DEP), 0,
           contains=['Creating new deployment from blueprint {0}...'
                     .format(BLUEPRINT),
                     "Deployment `{0}` created. The deployment's id is {0}"
                     .format(DEP)])
    expect('cfy deployments list shows it', cfy('deployments', 'list'), 0,
           contains=['Deployments:', DEP, BLUEPRINT],
           regex=[r'^Showing \d+ of \d+ deployments$'])

    # 6. executions start sleep -p seconds=2 (foreground, runs to the end)
    r = cfy('executions', 'start', 'sleep', '-d', DEP, '-p', 'seconds=2',
            timeout=120)
    expect('cfy executions start sleep -p seconds=2 finishes', r, 0,
           contains=['Executing workflow `sleep` on deployment `{0}` '
                     '[timeout=900 seconds]'.format(DEP),
                     'Finished executing workflow sleep on deployment {0}'
                     .format(DEP)])
    m = re.search(r"cfy events list ([0-9A-Za-z_.:-]+)'", r[1])
    first_exec = m.group(1) if m else None
    if first_exec:
        created_execs.append(first_exec)
        st = exec_status(first_exec)
        check('first sleep execution is terminated', st == 'terminated', st)

    # 7. a long sleep in the background keeps the manager `activating` until the
    # test ends it (step 11): an event, not a guess at how long five `cfy` take
    bg = cfy_bg('executions', 'start', 'sleep', '-d', DEP,
                '-p', 'seconds={0}'.format(HOLD_SECONDS))
    t0 = time.time()

    def running_sleep():
        for ex in INSPECT_CLIENT.executions.list(deployment_id=DEP,
                                               workflow_id='sleep'):
            if ex.id not in created_execs and \
                    ex.status not in ex.END_STATES:
                return ex
    hold_exec = wait_for(running_sleep, 20)
    if not check('background sleep execution created', hold_exec is not None):
        bg.kill()
        return
    created_execs.append(hold_exec.id)

    # 8. activate -> activating
    expect('maintenance-mode activate (executions running)',
           cfy('maintenance-mode', 'activate'), 0,
           contains=['Entering maintenance mode...',
                     "Run 'cfy maintenance-mode status' to check the "
                     "maintenance mode's status."])
    r = cfy('maintenance-mode', 'status')
    expect('maintenance-mode status shows activating', r, 0,
           contains=['Maintenance Mode Status:', '\tStatus:\tactivating',
                     '\tActivation Requested At:\t',
                     '\tRequested By:\t{0}'.format(ADMIN)],
           absent=['\tActivated At:', 'Remaining executions:'],
           regex=[r'^Cloudify Manager currently has (one running or pending '
                  r'execution\. Waiting for it to finish|\d+ running or '
                  r'pending executions\. Waiting for all executions to '
                  r'finish) before entering maintenance mode\.$',
                  r'\tActivation Requested At:\t\d{4}-\d\d-\d\dT'
                  r'\d\d:\d\d:\d\d\.\d{3}Z$'])
    check('status field order (Status, Activation Requested At, '
          'Requested By)',
          field_order_ok(r[1], ['Status', 'Activation Requested At',
                                'Requested By']), excerpt(r[1]))
    expect('maintenance-mode status -v lists remaining executions',
           cfy('maintenance-mode', 'status', '-v'), 0,
           contains=['Remaining executions:', hold_exec.id, 'sleep', DEP],
           regex=[r'\|\s+id\s+\|\s+deployment_id\s+\|\s+workflow_id\s+\|'
                  r'\s+status\s+\|'])
    expect('cfy status shows activating', cfy('status'), 0,
           contains=['Services:', 'Maintenance mode is activating.'])

    # 9. starting work while activating is refused (503 entering_...)
    r = cfy('executions', 'start', 'sleep', '-d', DEP, '-p', 'seconds=1')
    expect('executions start while activating -> refused', r, 1,
           contains=[MAINT_TEXT], absent=[SERVER_ERR_PREFIX, 'Finished'])
    e = rest_error(lambda: ADMIN_CLIENT.executions.start(DEP, 'sleep'))
    check('REST start while activating -> 503 MaintenanceModeActivatingError',
          isinstance(e, cfy_exc.MaintenanceModeActivatingError)
          and e.status_code == 503
          and e.error_code == 'entering_maintenance_mode', repr(e))
    rr = requests.get(BASE + '/executions/' + hold_exec.id,
                      auth=(ADMIN, ADMIN_PW), headers={'Tenant': TENANT})
    check('reads pass while activating (GET /executions/<id> 200)',
          rr.status_code == 200, '{0} {1}'.format(rr.status_code,
                                                  rr.text[:300]))

    # 10. activate again (with --wait) while activating: 304 -> CLI error
    expect('activate --wait while already activating -> 304 '
           '"Nothing to modify"',
           cfy('maintenance-mode', 'activate', '--wait'), 1,
           contains=['Entering maintenance mode...', 'Nothing to modify'],
           absent=[SERVER_ERR_PREFIX, 'Manager is in maintenance mode.'])
    e = rest_error(lambda: ADMIN_CLIENT.maintenance_mode.activate())
    check('REST activate twice -> NotModifiedError (HTTP 304)',
          isinstance(e, cfy_exc.NotModifiedError) and e.status_code == 304,
          repr(e))
    expect("activate --timeout without --wait -> CLI error",
           cfy('maintenance-mode', 'activate', '--timeout', '5'), 1,
           contains=["'--timeout' was used without '--wait'."])

    # 11. the checks are done: end the held execution as a worker does (its status
    # report passes while activating); the background `executions start` then
    # ends: its last poll is blocked
    check('still activating when the checks are done',
          maint_status() == 'activating', maint_status())
    e = rest_error(lambda: ADMIN_CLIENT.executions.update(hold_exec.id,
                                                          'terminated'))
    check('worker status report (PATCH terminated) passes while activating',
          e is None, repr(e))
    try:
        out, _ = bg.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        bg.kill()
        out, _ = bg.communicate()
    expect('in-flight `cfy executions start` ends with the maintenance '
           'error (its follow-up GET is blocked once activated)',
           (bg.returncode, out), 1,
           contains=['Executing workflow `sleep`', MAINT_TEXT],
           absent=[SERVER_ERR_PREFIX])
    st = wait_for(lambda: maint_status() == 'activated' and 'activated', 10)
    check('state is activated once the execution ended', st == 'activated',
          str(st))
    st = wait_for(lambda: exec_status(hold_exec.id) == 'terminated'
                  and 'terminated', 10)
    check('held execution is terminated (activation did not cancel it)',
          st == 'terminated', exec_status(hold_exec.id))
    print('      (activating phase lasted {0:.1f}s)'.format(time.time() - t0))

    # 12. activated
    r = cfy('maintenance-mode', 'status')
    expect('maintenance-mode status shows activated', r, 0,
           contains=['\tStatus:\tactivated', '\tActivated At:\t',
                     '\tActivation Requested At:\t',
                     '\tRequested By:\t{0}'.format(ADMIN),
                     'INFO - Cloudify Manager is currently in maintenance '
                     'mode. Most requests will be blocked.'],
           absent=['running or pending'])
    check('status field order (Status, Activated At, Activation Requested '
          'At, Requested By)',
          field_order_ok(r[1], ['Status', 'Activated At',
                                'Activation Requested At', 'Requested By']),
          excerpt(r[1]))
    expect('cfy status shows activated', cfy('status'), 0,
           contains=['Services:', 'Maintenance mode is activated.'])
    expect('cfy --version works while activated', cfy('--version'), 0,
           contains=['Cloudify CLI 7.0.5', 'Cloudify Manager '])

    # 13. blocked calls
    expect('cfy deployments list while activated -> 503 message',
           cfy('deployments', 'list'), 1,
           contains=['Listing all deployments...', MAINT_TEXT],
           absent=[SERVER_ERR_PREFIX, 'Showing'])
    expect('cfy executions list while activated -> 503 message',
           cfy('executions', 'list'), 1,
           contains=[MAINT_TEXT], absent=[SERVER_ERR_PREFIX])
    e = rest_error(lambda: ADMIN_CLIENT.deployments.list())
    check('REST list while activated -> 503 MaintenanceModeActiveError',
          isinstance(e, cfy_exc.MaintenanceModeActiveError)
          and e.status_code == 503
          and e.error_code == 'maintenance_mode_active', repr(e))
    rr = requests.get(BASE + '/deployments', auth=(ADMIN, ADMIN_PW),
                      headers={'Tenant': TENANT})
    try:
        body = rr.json()
    except ValueError:
        body = None
    check('503 body is {message, error_code, server_traceback}',
          rr.status_code == 503 and isinstance(body, dict)
          and body.get('error_code') == 'maintenance_mode_active'
          and MAINT_TEXT in (body.get('message') or '')
          and 'server_traceback' in body,
          '{0} {1}'.format(rr.status_code, rr.text[:300]))
    rr = requests.get(BASE + '/deployments', auth=(ADMIN, ADMIN_PW),
                      headers={'Tenant': TENANT,
                               'X-BYPASS-MAINTENANCE': 'true'})
    check('sys_admin with X-BYPASS-MAINTENANCE passes (200)',
          rr.status_code == 200, '{0} {1}'.format(rr.status_code,
                                                  rr.text[:300]))
    rr = requests.get(BASE + '/deployments', auth=(USER, USER_PW),
                      headers={'Tenant': TENANT,
                               'X-BYPASS-MAINTENANCE': 'true'})
    check('non-admin X-BYPASS-MAINTENANCE is ignored (not 2xx)',
          rr.status_code in (503, 403, 401), '{0} {1}'.format(
              rr.status_code, rr.text[:300]))

    # 14. deactivate, and deactivate again (304)
    expect('maintenance-mode deactivate', cfy('maintenance-mode',
                                              'deactivate'), 0,
           contains=['Turning off maintenance mode...',
                     'Maintenance mode is off.'])
    expect('deactivate again -> 304 "Nothing to modify"',
           cfy('maintenance-mode', 'deactivate'), 1,
           contains=['Turning off maintenance mode...', 'Nothing to modify'],
           absent=[SERVER_ERR_PREFIX])
    expect('maintenance-mode status back to deactivated',
           cfy('maintenance-mode', 'status'), 0,
           contains=['\tStatus:\tdeactivated'],
           absent=['Requested By', 'Activated At'])
    expect('cfy status without maintenance line', cfy('status'), 0,
           contains=['Services:'], absent=['Maintenance mode is'])

    # 14b. drydock's planning fields: the real CLI prints the seed's lines with
    # them present (it ignores what it does not know, and prints what is set).
    rr = requests.post(BASE + '/maintenance/activate', auth=(ADMIN, ADMIN_PW),
                       headers={'Tenant': TENANT},
                       json={'reason': 'planned by interop', 'until': '30m'})
    check('REST activate with a reason and an end', rr.status_code == 200
          and rr.json().get('reason') == 'planned by interop',
          '{0} {1}'.format(rr.status_code, rr.text[:300]))
    r = cfy('maintenance-mode', 'status')
    expect('maintenance-mode status with reason and until', r, 0,
           contains=['\tStatus:\tactivated', '\tActivated At:\t',
                     '\tActivation Requested At:\t',
                     '\tRequested By:\t{0}'.format(ADMIN),
                     '\tReason:\tplanned by interop', '\tUntil:\t',
                     'INFO - Cloudify Manager is currently in maintenance '
                     'mode. Most requests will be blocked.'])
    check('... and the seed\'s fields keep their order',
          field_order_ok(r[1], ['Status', 'Activated At',
                                'Activation Requested At', 'Requested By']),
          excerpt(r[1]))
    rr = requests.get(BASE + '/deployments', auth=(USER, USER_PW),
                      headers={'Tenant': TENANT})
    retry = rr.headers.get('Retry-After', '')
    check('a refusal names the reason and says when to retry',
          rr.status_code == 503 and 'planned by interop' in rr.text
          and retry.isdigit() and 1700 <= int(retry) <= 1800,
          '{0} Retry-After {1!r} {2}'.format(rr.status_code, retry,
                                             rr.text[:300]))
    e = rest_error(lambda: client(USER, USER_PW).deployments.list())
    check('... and the real client still raises MaintenanceModeActiveError',
          isinstance(e, cfy_exc.MaintenanceModeActiveError), repr(e))
    expect('maintenance-mode deactivate (planned)',
           cfy('maintenance-mode', 'deactivate'), 0,
           contains=['Maintenance mode is off.'])

    # 15. activate --wait that really waits (poll interval is 5 s): the sleep
    # holds activating until the CLI is seen waiting, then the test ends it
    ex3 = ADMIN_CLIENT.executions.start(DEP, 'sleep',
                                        parameters={'seconds': HOLD_SECONDS})
    created_execs.append(ex3.id)
    waiter = cfy_bg('maintenance-mode', 'activate', '--wait', '--timeout',
                    '120')
    st = wait_for(lambda: maint_status() == 'activating' and 'activating', 60)
    check('activate --wait: activating while the execution runs',
          st == 'activating', maint_status())
    check('activate --wait is still waiting while the execution runs',
          waiter.poll() is None, 'exited with {0}'.format(waiter.returncode))
    e = rest_error(lambda: ADMIN_CLIENT.executions.update(ex3.id,
                                                          'terminated'))
    check('worker status report ends the execution', e is None, repr(e))
    try:
        out, _ = waiter.communicate(timeout=150)
    except subprocess.TimeoutExpired:
        waiter.kill()
        out, _ = waiter.communicate()
    r = (waiter.returncode, out)
    expect('activate --wait waits for the execution, then activated', r, 0,
           contains=['Entering maintenance mode...',
                     'Cloudify manager will enter Maintenance mode once '
                     'there are no running or pending executions...',
                     'Manager is in maintenance mode.',
                     'While in maintenance mode most requests will be '
                     'blocked.'])
    check('third sleep execution terminated',
          exec_status(ex3.id) == 'terminated', exec_status(ex3.id))
    expect('deactivate after --wait', cfy('maintenance-mode', 'deactivate'),
           0, contains=['Maintenance mode is off.'])

    # 16. executions list / get
    r = cfy('executions', 'list')
    expect('cfy executions list', r, 0,
           contains=['Listing all executions...', 'Executions:',
                     hold_exec.id, 'completed'],
           regex=[r'^Showing \d+ of \d+ executions$',
                  r'\|\s+id\s+\|\s+workflow_id\s+\|\s+status\s+\|\s+'
                  r'is_dry_run\s+\|\s+deployment_id\s+\|\s+created_at\s+\|'])
    expect('cfy executions list -d DEP', cfy('executions', 'list', '-d', DEP),
           0, contains=['Listing executions for deployment {0}...'
                        .format(DEP), hold_exec.id])
    if first_exec:
        r = cfy('executions', 'get', first_exec)
        expect('cfy executions get', r, 0,
               contains=['Retrieving execution {0}'.format(first_exec),
                         'Execution:', 'completed', 'Execution Parameters:',
                         'seconds:'])
        check('executions get: every FULL_EXECUTION_COLUMNS field present '
              '(no N/A cell)', 'N/A' not in r[1], excerpt(r[1]))
    expect('cfy executions get <unknown> -> not found',
           cfy('executions', 'get', 'no-such-exec-' + RUN_ID), 1,
           contains=['Execution no-such-exec-{0} not found'.format(RUN_ID)])

    # 17. cancel a pending execution of another workflow
    e = None
    pend = None
    try:
        pend = ADMIN_CLIENT.executions.start(DEP, PENDING_WF)
        created_execs.append(pend.id)
    except cfy_exc.CloudifyClientError as exc:
        e = exc
    if check('REST start {0!r} accepted (201)'.format(PENDING_WF),
             pend is not None, repr(e)):
        time.sleep(1)
        st = exec_status(pend.id)
        check('{0!r} execution stays unfinished (no worker runs it)'
              .format(PENDING_WF), st not in ('terminated', 'failed',
                                              'cancelled'), st)
        expect('cfy executions cancel <pending>',
               cfy('executions', 'cancel', pend.id), 0,
               contains=['Cancelling execution {0}'.format(pend.id),
                         'A cancel request for execution {0} has been sent. '
                         "To track the execution's status, use:"
                         .format(pend.id),
                         'cfy executions get {0}'.format(pend.id)])
        st = wait_for(lambda: exec_status(pend.id) == 'cancelled'
                      and 'cancelled', 10)
        if not check('pending execution reaches cancelled after plain '
                     'cancel', st == 'cancelled', exec_status(pend.id)):
            expect('cfy executions cancel -k (kill) fallback',
                   cfy('executions', 'cancel', '-k', pend.id), 0,
                   contains=['Killing execution {0}'.format(pend.id)])
            st = wait_for(lambda: exec_status(pend.id) == 'cancelled'
                          and 'cancelled', 10)
            check('cancelled after kill', st == 'cancelled',
                  exec_status(pend.id))
        expect('cfy executions get shows cancelled',
               cfy('executions', 'get', pend.id), 0,
               contains=['cancelled'])
        expect('cancel an ended execution -> server error, exit 1',
               cfy('executions', 'cancel', pend.id), 1,
               contains=[SERVER_ERR_PREFIX])

    # 17b. a worker's status reports through the real client follow Cloudify's
    # table (resource_manager._validate_execution_update)
    fast = ADMIN_CLIENT.executions.start(DEP, PENDING_WF)
    created_execs.append(fast.id)
    e = rest_error(lambda: ADMIN_CLIENT.executions.update(fast.id,
                                                          'terminated'))
    check('executions.update pending -> terminated accepted', e is None,
          repr(e))
    check('... and the execution is terminated',
          exec_status(fast.id) == 'terminated', exec_status(fast.id))
    e = rest_error(lambda: ADMIN_CLIENT.executions.update(fast.id, 'started'))
    check('executions.update terminated -> started refused (400)',
          e is not None and e.status_code == 400, repr(e))
    slow = ADMIN_CLIENT.executions.start(DEP, PENDING_WF)
    created_execs.append(slow.id)
    ADMIN_CLIENT.executions.update(slow.id, 'started')
    ADMIN_CLIENT.executions.cancel(slow.id)
    check('started + cancel -> cancelling',
          exec_status(slow.id) == 'cancelling', exec_status(slow.id))
    e = rest_error(lambda: ADMIN_CLIENT.executions.update(slow.id,
                                                          'terminated'))
    check('executions.update cancelling -> terminated refused (400)',
          e is not None and e.status_code == 400, repr(e))
    check('... and the execution is still cancelling',
          exec_status(slow.id) == 'cancelling', exec_status(slow.id))
    e = rest_error(lambda: ADMIN_CLIENT.executions.update(slow.id,
                                                          'cancelled'))
    check('executions.update cancelling -> cancelled accepted', e is None,
          repr(e))

    # 18. activate with nothing running -> activated at once; deactivate
    expect('activate when idle', cfy('maintenance-mode', 'activate'), 0,
           contains=['Entering maintenance mode...'])
    check('idle activate is immediately activated',
          maint_status() == 'activated', maint_status())
    expect('deactivate (idle)', cfy('maintenance-mode', 'deactivate'), 0,
           contains=['Maintenance mode is off.'])

    # 19. deployments delete
    expect('cfy deployments delete', cfy('deployments', 'delete', DEP), 0,
           contains=['Trying to delete deployment {0}...'.format(DEP),
                     'Deployment deleted'])
    expect('deleted deployment gone from list', cfy('deployments', 'list'),
           0, contains=['Deployments:'], absent=[DEP])


def cleanup():
    """Leave the server usable: kill our unfinished executions, deactivate."""
    try:
        bypass = client(headers={'X-BYPASS-MAINTENANCE': 'true'})
        for ex_id in created_execs:
            try:
                ex = bypass.executions.get(ex_id)
                if ex.status not in ex.END_STATES:
                    bypass.executions.cancel(ex_id, kill=True)
            except Exception:
                pass
        try:
            if bypass.maintenance_mode.status().status != 'deactivated':
                bypass.maintenance_mode.deactivate()
        except Exception:
            pass
        try:
            bypass.deployments.delete(DEP)
        except Exception:
            pass
        # step 4b's leftovers, if it stopped midway: executions, deployments,
        # tenants (their memberships go with them), then its users
        end_tenant_executions()
        for tenant, dep_id in tenant_deps:
            try:
                client(headers={'X-BYPASS-MAINTENANCE': 'true'},
                       tenant=tenant).deployments.delete(dep_id)
            except Exception:
                pass
        for tenant in created_tenants:
            try:
                bypass.tenants.delete(tenant)
            except Exception:
                pass
        for name in created_users:
            try:
                bypass.users.delete(name)
            except Exception:
                pass
    finally:
        shutil.rmtree(WORK, ignore_errors=True)


def main():
    print('cfy interop against {0}:{1} (run {2}, workdir {3})'.format(
        HOST, PORT, RUN_ID, WORK))
    try:
        scenario()
    except Exception:
        check('scenario ran without a test-harness exception', False,
              excerpt(traceback.format_exc(), 4000))
    finally:
        cleanup()
    print('{0} passed, {1} failed'.format(PASSED, FAILED))
    sys.exit(1 if FAILED else 0)


if __name__ == '__main__':
    main()
