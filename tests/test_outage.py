"""engine/outage.py: which errors are a lost connection, and one log line
per outage however many threads notice it (no database needed)."""
import logging
import unittest

import psycopg2
import psycopg2.errors

from odoo.addons.background_job.engine.outage import Outages, connection_lost


class TestConnectionLost(unittest.TestCase):

    def test_errors_of_a_gone_connection_are_told_from_errors_of_a_statement(self):
        self.assertTrue(connection_lost(psycopg2.OperationalError(
            'server closed the connection unexpectedly')))  # libpq: no SQLSTATE
        self.assertTrue(connection_lost(psycopg2.InterfaceError('connection already closed')))
        self.assertTrue(connection_lost(psycopg2.errors.AdminShutdown()))  # 57P01
        self.assertFalse(connection_lost(psycopg2.errors.QueryCanceled()))  # statement_timeout
        self.assertFalse(connection_lost(psycopg2.errors.LockNotAvailable()))
        self.assertFalse(connection_lost(psycopg2.errors.SerializationFailure()))
        self.assertFalse(connection_lost(ValueError('job code')))


class TestOutages(unittest.TestCase):

    def setUp(self):
        self.outages = Outages('db')
        self.error = psycopg2.OperationalError('server closed the connection unexpectedly')

    def logged(self, level):
        return [record for record in self.records if record.levelno == level]

    def test_each_outage_is_logged_once_whichever_threads_notice_it(self):
        with self.assertLogs('odoo.addons.background_job.engine.outage', 'DEBUG') as logs:
            self.records = logs.records
            tokens = [self.outages.opened() for _ in range(5)]  # 5 threads connect
            for token in tokens:  # all are cut
                self.outages.lost(token, self.error, 1)
            self.outages.lost(tokens[0], self.error, 2)  # reconnecting fails: same outage
            tokens[:3] = [self.outages.opened() for _ in range(3)]  # 3 back
            self.outages.lost(tokens[4], self.error, 2)  # late notice of the first outage
            tokens[4] = self.outages.opened()
            for token in tokens:  # a second outage
                self.outages.lost(token, self.error, 1)
        self.assertEqual(self.outages.count, 2)
        warnings = self.logged(logging.WARNING)
        self.assertEqual(len(warnings), 2)
        self.assertIn('server closed the connection unexpectedly', warnings[0].getMessage())
        self.assertEqual(len(self.logged(logging.INFO)), 1)  # back once, after the first
        self.assertEqual(len(self.logged(logging.DEBUG)), 4 + 1 + 1 + 4)

    def test_a_thread_that_never_connected_starts_an_outage_only_if_none_is_open(self):
        with self.assertLogs('odoo.addons.background_job.engine.outage', 'DEBUG') as logs:
            self.records = logs.records
            self.outages.lost(None, self.error, 1)  # the database is down at start
            self.outages.lost(None, self.error, 1)
        self.assertEqual(len(self.logged(logging.WARNING)), 1)
