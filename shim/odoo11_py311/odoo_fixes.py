"""Fixes applied to Odoo modules right after they are imported.

An import hook wraps the loader of the few Odoo modules that need a fix, so
the fix runs at the first import, wherever it comes from, and importing this
package does not import Odoo.
"""
import ast
import importlib.abc
import sys
from opcode import opmap

# --- safe_eval --------------------------------------------------------------
# safe_eval keeps allow-lists of opcode names in three tiers (literals,
# expressions, statements). Python 3.11 compiles the same source to opcodes
# those lists do not know; each new opcode joins the tier of the old opcodes
# it replaces, so nothing is allowed that Odoo 11 did not already allow.
NEW_CONST_OPCODES = (
    'RESUME', 'NOP', 'CACHE', 'PUSH_NULL', 'COPY', 'SWAP',
    'LIST_EXTEND', 'LIST_TO_TUPLE', 'SET_UPDATE', 'DICT_UPDATE',
)
NEW_EXPR_OPCODES = ('BINARY_OP', 'CONTAINS_OP', 'IS_OP')
NEW_SAFE_OPCODES = (
    # calls (replace CALL_FUNCTION / CALL_METHOD)
    'PRECALL', 'CALL', 'KW_NAMES', 'DICT_MERGE',
    # f-strings
    'FORMAT_VALUE', 'BUILD_STRING',
    # jumps (replace POP_JUMP_IF_* / JUMP_ABSOLUTE)
    'POP_JUMP_FORWARD_IF_FALSE', 'POP_JUMP_FORWARD_IF_TRUE',
    'POP_JUMP_FORWARD_IF_NONE', 'POP_JUMP_FORWARD_IF_NOT_NONE',
    'POP_JUMP_BACKWARD_IF_FALSE', 'POP_JUMP_BACKWARD_IF_TRUE',
    'POP_JUMP_BACKWARD_IF_NONE', 'POP_JUMP_BACKWARD_IF_NOT_NONE',
    'JUMP_BACKWARD', 'JUMP_BACKWARD_NO_INTERRUPT',
    # generator expressions (replace their implicit generator set-up)
    'RETURN_GENERATOR',
    # try/except (replace SETUP_EXCEPT / END_FINALLY)
    'PUSH_EXC_INFO', 'CHECK_EXC_MATCH', 'RERAISE',
)


def _opcodes(names):
    return {opmap[name] for name in names if name in opmap}


def fix_safe_eval(module):
    const, expr, safe = (_opcodes(NEW_CONST_OPCODES), _opcodes(NEW_EXPR_OPCODES),
                         _opcodes(NEW_SAFE_OPCODES))
    # The tiers were built with set.union, so each is its own set object.
    module._CONST_OPCODES.update(const)
    module._EXPR_OPCODES.update(const | expr)
    module._SAFE_OPCODES.update(const | expr | safe)


# --- QWeb -------------------------------------------------------------------
class _ModernizeAst(ast.NodeTransformer):
    """Make an AST built for Python 3.5 acceptable to ``compile`` on 3.8+:
    ``arguments`` gained ``posonlyargs``, constants are ``Constant`` nodes
    (``Name('None')`` is rejected), and line ranges must not end before they
    start (QWeb copies template line numbers onto generated defs)."""

    CONSTANT_NAMES = {'None': None, 'True': True, 'False': False}
    skip = frozenset()  # names of the three repairs to leave out (tests)

    def visit(self, node):
        node = super().visit(node)
        if 'qweb_line_ranges' not in self.skip:
            self._repair_range(node)
        return node

    def visit_arguments(self, node):
        if 'qweb_posonlyargs' not in self.skip and getattr(node, 'posonlyargs', None) is None:
            node.posonlyargs = []
        return self.generic_visit(node)

    def visit_Name(self, node):
        if 'qweb_constants' not in self.skip and node.id in self.CONSTANT_NAMES:
            return ast.copy_location(ast.Constant(self.CONSTANT_NAMES[node.id]), node)
        return node

    @staticmethod
    def _repair_range(node):
        if getattr(node, 'lineno', None) is None:
            return
        if (getattr(node, 'end_lineno', None) or 0) < node.lineno:
            node.end_lineno = node.lineno
        if node.end_lineno == node.lineno and \
                (getattr(node, 'end_col_offset', None) or 0) < (node.col_offset or 0):
            node.end_col_offset = node.col_offset


def compile_modern(source, filename, mode, *args, **kwargs):
    """``compile`` that first repairs generated ASTs (see _ModernizeAst)."""
    if isinstance(source, ast.AST):
        source = ast.fix_missing_locations(_ModernizeAst().visit(source))
    return compile(source, filename, mode, *args, **kwargs)


def fix_qweb(module):
    # qweb.py calls the builtin ``compile`` on its AST; a module global of
    # the same name takes precedence over the builtin.
    module.compile = compile_modern


# --- web controllers ----------------------------------------------------------
def _pure_python_element_tree():
    """A separate copy of xml.etree.ElementTree that uses its Python Element
    class: the C Element type cannot take new methods."""
    saved = {name: sys.modules.pop(name, None)
             for name in ('xml.etree.ElementTree', '_elementtree')}
    sys.modules['_elementtree'] = None  # blocks the C accelerator
    try:
        import xml.etree.ElementTree as pure
    finally:
        del sys.modules['xml.etree.ElementTree']
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
    pure.Element.getchildren = lambda self: list(self)  # removed in 3.9
    return pure


def fix_web_controllers(module):
    # Only the bundle concatenation in this module calls getchildren().
    module.ElementTree = _pure_python_element_tree()


# --- prefork workers ------------------------------------------------------------
class _IntegerLimits:
    """``resource`` as odoo.service.server sees it: its prefork workers pass
    ``cpu_time + limit`` (a float) to setrlimit, which Python 3.10+ refuses."""

    def __init__(self, resource_module):
        self._resource = resource_module

    def setrlimit(self, which, limits):
        return self._resource.setrlimit(which, tuple(int(limit) for limit in limits))

    def __getattr__(self, name):
        return getattr(self._resource, name)


def fix_server(module):
    module.resource = _IntegerLimits(module.resource)


# --- YAML data files -----------------------------------------------------------
# Odoo 11 reads YAML data (e.g. base's demo res_partner_demo.yml) with
# yaml.load(text); PyYAML 6 requires a Loader. yaml.Loader is what that call
# meant in the PyYAML Odoo 11 ran with (the files are the modules' own data),
# and Odoo's tags (!record, !ref, ...) are registered on it.
class _YamlWithLoader:
    def __init__(self, yaml_module):
        self._yaml = yaml_module

    def load(self, stream, Loader=None):
        return self._yaml.load(stream, Loader=Loader or self._yaml.Loader)

    def __getattr__(self, name):
        return getattr(self._yaml, name)


def fix_yaml_import(module):
    module.yaml = _YamlWithLoader(module.yaml)


# module name -> (fix name, fix)
FIXES = {
    'odoo.tools.safe_eval': ('safe_eval_opcodes', fix_safe_eval),
    'odoo.addons.base.ir.ir_qweb.qweb': ('qweb', fix_qweb),
    'odoo.addons.web.controllers.main': ('web_getchildren', fix_web_controllers),
    'odoo.service.server': ('prefork_setrlimit', fix_server),
    'odoo.tools.yaml_import': ('yaml_load_loader', fix_yaml_import),
}


class _FixingLoader(importlib.abc.Loader):
    def __init__(self, loader, fix):
        self.loader, self.fix = loader, fix

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        self.fix(module)

    def __getattr__(self, name):  # get_source, is_package, ... for tracebacks
        return getattr(self.loader, name)


class FixingFinder(importlib.abc.MetaPathFinder):
    """Finds nothing itself: asks the other finders, then wraps the loader
    of a module listed in FIXES so its fix runs right after it executes."""

    def find_spec(self, fullname, path, target=None):
        fix = self.fixes.get(fullname)
        if fix is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, 'find_spec'):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _FixingLoader(spec.loader, fix)
                return spec
        return None


def install(skip=frozenset()) -> None:
    _ModernizeAst.skip = skip
    finder = FixingFinder()
    finder.fixes = {module: fix for module, (name, fix) in FIXES.items() if name not in skip}
    for module, fix in finder.fixes.items():
        if module in sys.modules:  # imported before us: fix it in place
            fix(sys.modules[module])
    sys.meta_path.insert(0, finder)
