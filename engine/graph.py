"""Dependency graphs of jobs (chains, groups, ``on_done``), pure: which
nodes one ``delay()`` writes, in which order, and the refusal of cycles.

A graph is given as ``{node: the nodes it depends on}``; nodes are any
hashable objects (service/delayable.py: Delayables), named in errors by
``label``.

>>> order({'a': set(), 'b': {'a'}, 'c': {'b'}})
['a', 'b', 'c']
>>> order({'a': {'c'}, 'b': {'a'}, 'c': {'b'}})
Traceback (most recent call last):
...
ValueError: dependency cycle: a -> c -> b -> a
>>> links = {'a': ['b'], 'b': ['a', 'c'], 'c': ['b'], 'd': []}
>>> sorted(component('a', links.get))
['a', 'b', 'c']
"""
from __future__ import annotations

from typing import Callable, Hashable, Iterable, List, Mapping, Set

from . import batch

Graph = Mapping[Hashable, Iterable[Hashable]]


def component(start: Hashable,
              linked: Callable[[Hashable], Iterable[Hashable]]) -> Set[Hashable]:
    """Every node linked to ``start`` (``linked(node)``: its dependencies
    and dependents), directly or not: what one ``delay()`` writes."""
    seen, todo = {start}, [start]
    while todo:
        for other in linked(todo.pop()):
            if other not in seen:
                seen.add(other)
                todo.append(other)
    return seen


def order(dependencies: Graph, label: Callable[[Hashable], str] = str) -> List[Hashable]:
    """The nodes, each after the nodes it depends on (in the order given
    otherwise). ValueError naming the cycle when there is one."""
    done: set = set()
    result: list = []
    path: list = []

    def visit(node):
        if node in done:
            return
        if node in path:
            cycle = path[path.index(node):] + [node]
            raise ValueError('dependency cycle: %s' % ' -> '.join(label(n) for n in cycle))
        path.append(node)
        for needed in dependencies.get(node, ()):
            visit(needed)
        path.pop()
        done.add(node)
        result.append(node)

    for node in dependencies:
        visit(node)
    return result


def waited_for(job) -> list:
    """The jobs whose dependents a worker re-checks after ``job`` ended (no
    query: it runs after every job): the job if others wait for it, the
    batches whose done method it ran (a batch ends done with it)."""
    return ([job.id] if job.has_dependents else []) + batch.done_method_batches(job)
