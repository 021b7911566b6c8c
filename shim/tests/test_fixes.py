"""One test per fix of the Python 3.11 shim: each fails without its fix
(test_each_fix_is_needed.py proves it by leaving fixes out)."""
import base64
import inspect
import os
import tempfile

from lxml import etree


def test_collections_abc_aliases_let_odoo_import():
    from collections import Mapping, MutableMapping  # noqa: F401  removed in 3.10
    import odoo.tools.misc
    assert issubclass(odoo.tools.misc.frozendict, dict)


def test_getargspec_has_the_fields_odoo_http_and_api_read():
    spec = inspect.getargspec(lambda self, a, b=2, *rest, **options: None)
    assert spec.args == ['self', 'a', 'b']
    assert (spec.varargs, spec.keywords, spec.defaults) == ('rest', 'options', (2,))


def test_odoo_api_guesses_calling_conventions():
    from odoo import api

    def compute(self, records):
        return records
    assert api.guess(compute) is compute  # noguess: getargspec saw (self, records)


def test_ormcache_builds_its_key_function():
    from odoo.tools import ormcache

    def lookup(self, name, size=3, *more, **options):
        return name
    cache = ormcache('name', 'size')
    cache(lookup)
    assert cache.key(object(), 'x', 5) == ('x', 5)  # a lambda made by formatargspec


def test_base64_encodestring_round_trips():
    encoded = base64.encodestring(b'odoo')
    assert base64.decodestring(encoded) == b'odoo'


def test_safe_eval_accepts_python_311_bytecode():
    from odoo.tools.safe_eval import safe_eval
    expression = ("[x for x in values if x is not None and x in (1, 2)] + "
                  "[dict(a=1, **extra)['a'] * 2] + ['%s' % y for y in 'ab']")
    assert safe_eval(expression, {'values': [1, None, 2, 3], 'extra': {'b': 2}}) == \
        [1, 2, 2, 'a', 'b']


def test_safe_eval_still_forbids_what_odoo_11_forbade():
    import pytest
    from odoo.tools.safe_eval import safe_eval
    with pytest.raises(ValueError, match='forbidden opcode'):
        safe_eval('import os', mode='exec')
    with pytest.raises(Exception):
        safe_eval('().__class__')


def render_qweb(xml, values):
    from odoo.addons.base.ir.ir_qweb.qweb import QWeb
    return QWeb().render(etree.fromstring(xml), values)


def test_qweb_compiles_function_arguments():
    # every template is compiled to defs whose ast.arguments lack posonlyargs
    assert render_qweb('<t t-name="a"><b t-esc="word"/></t>', {'word': 'hi'}) == b'<b>hi</b>'


def test_qweb_compiles_none_and_false_comparisons():
    # t-esc compiles to `content is not None and content is not False`
    # with Name('None') / Name('False') nodes: falsy content drops the tag
    template = '<t t-name="a"><i t-esc="empty"/><i t-esc="flag"/><b t-esc="word"/></t>'
    assert render_qweb(template, {'empty': None, 'flag': False, 'word': 'hi'}) == b'<b>hi</b>'


def test_qweb_compiles_defs_that_carry_template_line_numbers():
    xml = '<t t-name="a">\n\n<ul><li t-foreach="items" t-as="i"><t t-esc="i"/></li></ul></t>'
    assert render_qweb(xml, {'items': [1, 2]}) == b'\n\n<ul><li>1</li><li>2</li></ul>'


def test_web_client_concatenates_xml_templates():
    from odoo.addons.web.controllers.main import concat_xml
    paths = []
    for body in ('<templates><t t-name="one"/></templates>',
                 '<templates><t t-name="two"/></templates>'):
        handle = tempfile.NamedTemporaryFile('w', suffix='.xml', delete=False)
        handle.write(body)
        handle.close()
        paths.append(handle.name)
    try:
        xml, _checksum = concat_xml(paths)
    finally:
        for path in paths:
            os.unlink(path)
    assert b't-name="one"' in xml and b't-name="two"' in xml


def test_prefork_workers_can_set_cpu_limits_from_float_seconds():
    # Worker.process_limit() does setrlimit(RLIMIT_CPU, (cpu_time + limit, hard))
    # with a float cpu_time; re-apply the current limits the same way.
    import resource
    from odoo.service import server
    soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    server.resource.setrlimit(resource.RLIMIT_CPU, (float(soft), hard))
    assert resource.getrlimit(resource.RLIMIT_CPU) == (soft, hard)


def test_yaml_data_files_are_read_with_odoo_tags():
    # base's demo data (res_partner_demo.yml) goes through this module
    # (odoo.tools also exports a function named yaml_import)
    import importlib
    from odoo.tools import yaml_tag
    yaml_import = importlib.import_module('odoo.tools.yaml_import')
    (node,) = yaml_import.yaml.load('- !ref {id: base.main_company}\n')
    assert isinstance(node, yaml_tag.Ref)
