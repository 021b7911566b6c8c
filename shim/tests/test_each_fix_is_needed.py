"""Leave each fix out in turn, in a fresh interpreter: the shim's tests must
then fail. Guards against a fix that is dead code or a test that cannot fail."""
import os
import shutil
import subprocess
import tempfile
import sys

import pytest

FIX_NAMES = ('collections_abc', 'getargspec', 'formatargspec', 'base64',
             'safe_eval_opcodes', 'qweb_posonlyargs', 'qweb_constants',
             'qweb_line_ranges', 'web_getchildren', 'prefork_setrlimit',
             'yaml_load_loader')
HERE = os.path.dirname(os.path.abspath(__file__))


def run_fix_tests(skip):
    """Run test_fixes.py in a fresh interpreter, from a copy in a temporary
    folder: away from the checkout, whose root is an Odoo addon package."""
    env = dict(os.environ, ODOO11_PY311_SKIP=skip)
    with tempfile.TemporaryDirectory() as folder:
        shutil.copy(os.path.join(HERE, 'test_fixes.py'), folder)
        return subprocess.run(
            [sys.executable, '-m', 'pytest', '-p', 'no:odoo', '-p', 'no:cacheprovider',
             '--rootdir', folder, '-c', os.devnull, '--noconftest',
             '-q', '-x', os.path.join(folder, 'test_fixes.py')],
            env=env, cwd=folder, capture_output=True, text=True, timeout=300)


def test_all_fix_tests_pass_with_every_fix():
    result = run_fix_tests('')
    assert result.returncode == 0, result.stdout[-3000:]


@pytest.mark.parametrize('fix', FIX_NAMES)
def test_leaving_the_fix_out_fails_a_test(fix):
    result = run_fix_tests(fix)
    assert result.returncode != 0, 'tests still pass without %s:\n%s' % (fix, result.stdout[-2000:])
