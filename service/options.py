"""The ``[background_job]`` section of the Odoo config file (odoo.conf)."""
from odoo.tools import config

ADDON = 'background_job'


def options():
    return config.misc.get(ADDON, {})


def flag(name):
    """An on/off option: 1, true or yes (any case) mean on."""
    return str(options().get(name, '')).lower() in ('1', 'true', 'yes')
