"""A transaction on one of the engine's autocommit connections (the job
threads' and the control thread's, engine/worker.py; the attempt's failure
records and batch endings, engine/attempt.py)."""
import contextlib


@contextlib.contextmanager
def transaction(connection):
    """A transaction on an autocommit connection: BEGIN, then COMMIT, or
    ROLLBACK when the block raises."""
    with connection.cursor() as cr:
        cr.execute('BEGIN')
        try:
            yield cr
        except BaseException:
            if not connection.closed:
                cr.execute('ROLLBACK')
            raise
        cr.execute('COMMIT')
