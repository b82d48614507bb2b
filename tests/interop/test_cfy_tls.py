#!/usr/bin/env python3
"""Interop over TLS: the real Cloudify CLI (`cfy` 7.0.5) against drydock serving
HTTPS with a certificate from a private CA made at test time.

First the negative case: with a second, unrelated CA (made here by
scripts/test-cert.sh, with the same name as the real one) `cfy` must refuse to talk
to the server and say it is a certificate failure. Then the same CLI with the
right CA signs in and drives maintenance mode.

    DRYDOCK_PORT=8443 DRYDOCK_ADMIN_PASSWORD=secret DRYDOCK_CA=ca.pem \\
        target/interop-venv/bin/python tests/interop/test_cfy_tls.py

Runs the `cfy` beside the running python (or CFY_BIN) with HOME and CFY_WORKDIR in a
fresh temp dir (one for the wrong CA, another for the right one). Prints one PASS/FAIL
line per check and, last, `N passed, N failed`.
"""
import os
import shutil
import subprocess
import sys
import tempfile

PORT = os.environ['DRYDOCK_PORT']
PASSWORD = os.environ['DRYDOCK_ADMIN_PASSWORD']
CA = os.environ['DRYDOCK_CA']
CFY = os.environ.get('CFY_BIN') or os.path.join(os.path.dirname(sys.executable), 'cfy')
WORK = tempfile.mkdtemp(prefix='cfy-tls-')
ENV = {k: v for k, v in os.environ.items() if not k.startswith('CLOUDIFY_')}
ENV.update({'HOME': WORK, 'CFY_WORKDIR': WORK, 'LANG': 'C.UTF-8', 'LC_ALL': 'C.UTF-8'})
# A CA bundle from the environment must not decide what the CLI trusts here.
for k in ('REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'SSL_CERT_FILE', 'SSL_CERT_DIR'):
    ENV.pop(k, None)
TEST_CERT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'scripts', 'test-cert.sh')
PASSED = FAILED = 0


def cfy(*args, home=WORK):
    env = dict(ENV, HOME=home, CFY_WORKDIR=home)
    p = subprocess.run([CFY] + list(args), env=env, cwd=home, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True, timeout=120)
    return p.returncode, p.stdout


def expect(name, result, rc=0, contains=(), absent=()):
    global PASSED, FAILED
    code, out = result
    problems = [] if code == rc else ['exit code {0} != {1}'.format(code, rc)]
    problems += ['missing {0!r}'.format(s) for s in contains if s not in out]
    problems += ['unexpected {0!r}'.format(s) for s in absent if s in out]
    if problems:
        FAILED += 1
        print('FAIL  {0}: {1}\n      | {2}'.format(name, '; '.join(problems), out.strip().replace('\n', '\n      | ')))
    else:
        PASSED += 1
        print('PASS  ' + name)


def profiles_use(ca, home=WORK):
    return cfy('profiles', 'use', '127.0.0.1', '--ssl', '--rest-port', PORT,
               '--rest-certificate', ca, '-u', 'admin', '-p', PASSWORD,
               '-t', 'default_tenant', home=home)


try:
    # A CA that did not sign the server's certificate: the CLI must not connect, and
    # must say why in words a person recognises. Its own profile folder, so nothing
    # it leaves behind helps the run with the right CA.
    other = os.path.join(WORK, 'other-ca')
    subprocess.run([TEST_CERT, other], check=True)
    other_home = os.path.join(WORK, 'other-home')
    os.makedirs(other_home)
    expect('cfy profiles use with another CA is refused as a certificate failure',
           profiles_use(os.path.join(other, 'ca.pem'), home=other_home), rc=1,
           contains=["Can't use manager 127.0.0.1. Certificate verification failed",
                     'CERTIFICATE_VERIFY_FAILED'],
           absent=['Traceback'])

    expect('cfy profiles use --ssl --rest-certificate CA',
           profiles_use(CA), contains=['Initialization completed successfully'])
    expect('cfy status over TLS', cfy('status'), contains=['Services:', 'Active'])
    expect('cfy maintenance-mode activate over TLS', cfy('maintenance-mode', 'activate'),
           contains=['Entering maintenance mode...'])
    expect('cfy maintenance-mode status over TLS', cfy('maintenance-mode', 'status'),
           contains=['\tStatus:\tactivated'])
    expect('cfy maintenance-mode deactivate over TLS', cfy('maintenance-mode', 'deactivate'),
           contains=['Maintenance mode is off.'])
finally:
    shutil.rmtree(WORK, ignore_errors=True)
print('{0} passed, {1} failed'.format(PASSED, FAILED))
sys.exit(1 if FAILED else 0)
