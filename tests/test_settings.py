"""The [background_job] section, parsed in one place into one Settings."""
import configparser
import dataclasses
import importlib.util
import os

import pytest
from odoo.tools import config

from odoo.addons.background_job.engine import defaults
from odoo.addons.background_job.engine.settings import Settings
from odoo.addons.background_job.service import options

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_an_empty_section_gives_the_defaults():
    settings = options.parse({})
    assert settings == Settings()
    assert (settings.threads, settings.databases, settings.database_refresh,
            dict(settings.channels), settings.dead_after, settings.timeout,
            settings.idle_close, settings.keep_days, settings.run_now) == (
        defaults.THREADS, (), defaults.DATABASE_REFRESH, defaults.CHANNELS,
        defaults.DEAD_AFTER, defaults.TIMEOUT, defaults.IDLE_CLOSE,
        defaults.KEEP_DAYS, False)


def test_every_option_is_read_with_its_type():
    settings = options.parse({
        'threads': '2', 'databases': ' a, b ,,c', 'database_refresh': '1.5',
        'channels': 'root:0, root.mail:3, root.import', 'dead_after': '12',
        'network_timeout': '8', 'timeout': '0', 'idle_close': '0.5', 'keep_days': '30',
        'run_now': 'Yes'})
    assert settings == Settings(
        threads=2, databases=('a', 'b', 'c'), database_refresh=1.5,
        channels={'root': 0, 'root.mail': 3, 'root.import': 0}, dead_after=12.0,
        network_timeout=8, timeout=0, idle_close=0.5, keep_days=30, run_now=True)
    assert options.parse({'run_now': 'False'}).run_now is False


def test_an_empty_value_keeps_the_default():
    assert options.parse({'threads': '', 'databases': '', 'channels': ' '}) == Settings()


@pytest.mark.parametrize('name, text', [
    ('threads', '-1'), ('threads', 'four'), ('timeout', 'abc'), ('timeout', '1.5'),
    ('dead_after', '0'), ('database_refresh', '-3'), ('idle_close', 'nan'),
    ('keep_days', '-7'), ('channels', 'root:x'), ('channels', 'root:-1'),
    ('run_now', 'maybe'), ('network_timeout', '-1'), ('network_timeout', '2.5'),
])
def test_a_bad_value_is_refused_naming_the_option(name, text):
    with pytest.raises(ValueError) as caught:
        options.parse({name: text})
    assert '[background_job] %s = %r' % (name, text) in str(caught.value)


def test_settings_are_read_only():
    settings = Settings(channels={'root': 2})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.threads = 8
    with pytest.raises(TypeError):
        settings.channels['root'] = 0
    assert defaults.CHANNELS == {'root': 0}


def test_settings_follow_the_config_section():
    section = config.misc.setdefault('background_job', {})
    previous = dict(section)
    try:
        section['keep_days'] = '3'
        assert options.settings().keep_days == 3
        section['keep_days'] = '4'
        assert options.settings().keep_days == 4
    finally:
        section.clear()
        section.update(previous)


def test_the_written_config_documents_exactly_the_options_at_their_defaults():
    spec = importlib.util.spec_from_file_location(
        'make_config', os.path.join(ROOT, 'scripts', 'make_config.py'))
    make_config = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_config)
    text = make_config.CONFIG_TEMPLATE.format(
        addons_path='', data_dir='', host='', port='', user='', password='',
        admin_passwd='', run_database='', background_job=make_config.job_section(defaults))
    parser = configparser.ConfigParser()
    parser.read_string(text)
    section = dict(parser['background_job'])
    assert set(section) == set(options.PARSERS)
    assert options.parse(section) == Settings()



def test_databases_are_the_option_else_db_name_else_those_dbfilter_matches():
    from odoo.addons.background_job.service import server
    section = config.misc.setdefault('background_job', {})
    previous = dict(section), config['db_name'], config['dbfilter']
    this_database = previous[1]
    try:
        section['databases'] = 'one, two'
        assert server.candidate_databases() == ['one', 'two']
        section['databases'] = ''
        assert server.candidate_databases() == [this_database]
        config['db_name'], config['dbfilter'] = '', '^%s$' % this_database
        assert server.candidate_databases() == [this_database]
    finally:
        section.clear()
        section.update(previous[0])
        config['db_name'], config['dbfilter'] = previous[1:]


def test_both_ends_of_the_engines_and_the_jobs_connections_drop_a_silent_peer():
    """network_timeout: libpq's keepalives and tcp_user_timeout on this end,
    the same session settings on PostgreSQL's (a lost machine's sessions end,
    releasing its jobs' row locks, README Faults)."""
    parameters = Settings(network_timeout=20).connection_parameters('-c synchronous_commit=off')
    assert parameters == {
        'keepalives': 1, 'keepalives_idle': 10, 'keepalives_interval': 3, 'keepalives_count': 3,
        'tcp_user_timeout': 20000,
        'options': '-c synchronous_commit=off -c tcp_keepalives_idle=10 '
                   '-c tcp_keepalives_interval=3 -c tcp_keepalives_count=3 -c tcp_user_timeout=20000'}
    assert Settings(network_timeout=0).connection_parameters() == {}
    from odoo.addons.background_job.service import job_cursor, server
    engine = server.connect(config['db_name'])
    jobs = job_cursor.JobCursor(config['db_name'])
    try:
        for connection in (engine, jobs._cnx):
            with connection.cursor() as cr:
                cr.execute("SELECT current_setting('tcp_keepalives_idle'), "
                           "current_setting('tcp_keepalives_count'), "
                           "current_setting('tcp_user_timeout')")
                assert cr.fetchone() == ('10', '3', '20000')  # ms
            assert connection.get_dsn_parameters()['tcp_user_timeout'] == '20000'
    finally:
        engine.close()
        jobs.close_connection()
