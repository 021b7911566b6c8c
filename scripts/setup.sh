#!/usr/bin/env bash
# One-command setup of a fresh clone: virtualenv, Odoo 11, the Python 3.11
# shim, lessc, Chromium for the browser tests, the PostgreSQL role and
# odoo.conf. Safe to run again; each step skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=$ROOT/.venv
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3

step() { printf '\n==> %s\n' "$*"; }
pip_quiet() { "$VENV/bin/pip" install -q "$@" 2>&1 | grep -v 'is ignored: it is neither' || true; }

step "virtualenv in .venv ($("$PYTHON" --version))"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
pip_quiet -r requirements.txt
pip_quiet --no-deps -r requirements-odoo.txt
"$VENV/bin/python" -c 'import odoo.release' 2>/dev/null || true

step "Python 3.11 compatibility shim (shim/odoo11_py311, loaded by a .pth file)"
SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
printf '%s\nimport odoo11_py311; odoo11_py311.install()\n' "$ROOT/shim" > "$SITE/odoo11_py311.pth"

step "gevent's monkey patching (the longpolling process of prefork servers)"
"$VENV/bin/python" -c 'import gevent.monkey; gevent.monkey.patch_all()'

step "odoo launcher and addons folder"
cat > "$VENV/bin/odoo" <<PY
#!$VENV/bin/python
import odoo
odoo.cli.main()
PY
chmod +x "$VENV/bin/odoo"
# Odoo loads an addon by its folder name: expose this checkout as background_job.
mkdir -p "$VENV/addons"
ln -sfn "$ROOT" "$VENV/addons/background_job"

step "lessc for the backend stylesheets"
if [ ! -x "$VENV/node/node_modules/.bin/lessc" ]; then
    npm install --silent --no-audit --no-fund --prefix "$VENV/node" less@3.13.1 less-plugin-clean-css@1.5.1
fi
ln -sfn "$VENV/node/node_modules/.bin/lessc" "$VENV/bin/lessc"

step "Chromium and chromedriver for the browser tests"
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
    else
        echo "Install Chromium and its driver (Debian: apt-get install chromium chromium-driver) to run the browser tests." >&2
        exit 1
    fi
fi

# A CJK font, or the zh_CN browser test's screenshots show empty boxes.
if ! fc-list :lang=zh | grep -q . && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-zenhei >/dev/null
fi

step "PostgreSQL role and odoo.conf"
"$VENV/bin/python" scripts/make_config.py
echo
echo "Setup done. Next: make test, or make run."
