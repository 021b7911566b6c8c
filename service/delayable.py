"""Chains, groups and dependencies (OCA queue_job 14+'s API):
``records.delayable(...)`` records a call, ``on_done``, ``chain`` and
``group`` link calls, ``delay()`` writes the whole graph in the caller's
transaction: one insert per job (waiting when it has dependencies), then
one for the edges (engine/store/dependencies.py). The order and the
refusal of cycles are engine/graph.py."""
import itertools

from ..engine import graph, states, store
from . import batch as batch_service
from . import enqueue

# Options of delayable() that make the call a batch (service/batch.py).
BATCH_OPTIONS = ('job_size', 'done_method', 'job_res_id')
_serials = itertools.count()  # jobs are written in the order their delayables were made


class _Linkable:
    """What chains and groups are made of: something with first jobs
    (``_heads``) and last jobs (``_tails``)."""

    def on_done(self, *others):
        """Run ``others`` (Delayables, chains or groups) once all of this
        has finished (done); returns self."""
        tails = self._tails()
        for other in others:
            for head in _linkable(other, 'on_done')._heads():
                head._wait_for(tails)
        return self

    def delay(self):
        """Write the whole graph linked to this one in the caller's
        transaction; returns its queue.job records."""
        return delay_graph(self._heads()[0])


class Delayable(_Linkable):
    """``records.delayable(**options)``: calling a @job method on it records
    the call (and returns the Delayable); nothing runs before delay()."""

    __slots__ = ('records', 'options', 'call', 'depends_on', 'dependents', 'job', 'serial')

    def __init__(self, records, options):
        self.serial = next(_serials)
        self.records = records
        self.options = options
        self.call = None  # (job method, args, kwargs)
        self.depends_on = []
        self.dependents = []
        self.job = None  # its queue.job, once delayed

    def __getattr__(self, name):
        if name.startswith('__'):
            raise AttributeError(name)
        job_method = enqueue.find_job(self.records, name)  # AttributeError unless @job

        def record_call(*args, **kwargs):
            if self.call is not None:
                raise ValueError('%s already records a call of %s: use one delayable() '
                                 'per call' % (self, self.call[0].__name__))
            self.call = (job_method, args, kwargs)
            return self
        return record_call

    def _heads(self):
        return [self]

    def _tails(self):
        return [self]

    def _wait_for(self, others):
        for other in others:
            if other is self:
                raise ValueError('dependency cycle: %s waits for itself' % self)
            if other not in self.depends_on:
                self.depends_on.append(other)
                other.dependents.append(self)

    def __repr__(self):
        method = self.call[0].__name__ if self.call else '?'
        return '<delayable %s(%s).%s>' % (self.records._name, ','.join(
            map(str, self.records.ids[:5])), method)


class _Composite(_Linkable):
    def __init__(self, what, members):
        if not members:
            raise ValueError('%s() needs at least one delayable' % what)
        self.members = [_linkable(member, what) for member in members]


class DelayableChain(_Composite):
    """``chain(a, b, c)``: b starts once a is done, c once b is done."""

    def __init__(self, *members):
        super().__init__('chain', members)
        for before, after in zip(self.members, self.members[1:]):
            before.on_done(after)

    def _heads(self):
        return self.members[0]._heads()

    def _tails(self):
        return self.members[-1]._tails()


class DelayableGroup(_Composite):
    """``group(a, b)``: a and b run independently; ``on_done`` waits for all."""

    def __init__(self, *members):
        super().__init__('group', members)

    def _heads(self):
        return [head for member in self.members for head in member._heads()]

    def _tails(self):
        return [tail for member in self.members for tail in member._tails()]


def chain(*delayables):
    return DelayableChain(*delayables)


def group(*delayables):
    return DelayableGroup(*delayables)


def _linkable(value, what):
    if not isinstance(value, _Linkable):
        raise TypeError('%s() takes delayables (records.delayable().method(...)), chains '
                        'and groups, not %r' % (what, value))
    return value


def delayable(records, options):
    """``records.delayable(**options)``: with_delay()'s options, and
    job_size / done_method / job_res_id for a batch of the records."""
    batch_options = {key: options.pop(key) for key in BATCH_OPTIONS if key in options}
    delayed = records.with_delay(**options)  # with_delay checks and converts the options
    return Delayable(records, dict(delayed._options, **batch_options))


def delay_graph(start):
    """Write every job linked to ``start`` (see the module's docstring)."""
    linked = graph.component(start, lambda node: node.depends_on + node.dependents)
    nodes = graph.order({node: node.depends_on
                         for node in sorted(linked, key=lambda node: node.serial)}, label=repr)
    env = start.records.env
    for node in nodes:
        _check_node(node, env)
    for node in nodes:  # in order: run now, each runs after its dependencies
        node.job = _write(node, waiting=bool(node.depends_on) and not enqueue.run_now(env))
    store.add_dependencies(env.cr, [(node.job.id, needed.job.id)
                                    for node in nodes for needed in node.depends_on])
    return env['queue.job'].browse([node.job.id for node in nodes])


def _check_node(node, env):
    if node.call is None:
        raise ValueError('%s records no call: call a @job method on it, e.g. '
                         'records.delayable().method(args)' % node)
    if node.job is not None:
        raise ValueError('%s was delayed already (job %s)' % (node, node.job.id))
    if node.records.env.cr.dbname != env.cr.dbname:
        raise ValueError('%s is on database %r, the graph on %r: a job can only depend on '
                         'jobs of its own database' % (node, node.records.env.cr.dbname,
                                                       env.cr.dbname))
    if node.records.env.cr is not env.cr:
        raise ValueError('%s is in another transaction than the graph: a graph is written '
                         'in one transaction' % node)
    if any(key in node.options for key in BATCH_OPTIONS) and not node.records:
        raise ValueError('%s: a batch in a graph needs records' % node)


def _write(node, waiting):
    """Write one job of the graph (or a batch); its queue.job record."""
    job_method, args, kwargs = node.call
    options = dict(node.options)
    if any(key in options for key in BATCH_OPTIONS):
        return batch_service.execute(
            node.records.env, node.records._name, job_method.__name__, node.records.ids,
            args=args, kwargs=kwargs, channel=options.get('channel'),
            priority=options.get('priority'), waiting=waiting,
            **{key: options[key] for key in BATCH_OPTIONS if options.get(key) is not None})
    if not waiting:
        return enqueue.delay(node.records, job_method.__name__, args, kwargs, options)
    values = enqueue.job_values(node.records, job_method, args, kwargs, options)
    values['state'] = states.WAITING
    return node.records.env['queue.job'].browse(store.enqueue(node.records.env.cr, values))
