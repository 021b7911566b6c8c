"""A job runs in the company it was enqueued in.

Odoo 11 has no per-request company: record rules (``user.company_id``) and
company defaults (``res.users._get_company``) read the company stored on the
user's row, which the web client rewrites when the user switches company.
Writing that row in the job's transaction would lock it for the whole job
(the user's jobs would run one at a time, and their company switch would
wait), so the job's environments are *pinned* to the enqueuing company
instead: in them, every read of the user's ``company_id`` gives that company
(models/res_users.py), and record rule domains are cached per user and
company (models/ir_rule.py), apart from Odoo's per-user cache that the
user's own requests in this process share.

The pin lives on the set of environments of one ``api.Environment.manage()``
block (``env.all``), which also holds their record cache: every environment
of the job, on any cursor and as any user, sees the same company.
"""

ATTRIBUTE = 'background_job_company'


def pin(env, user_id, company_id):
    """From now on, in ``env``'s block, ``user_id`` is in ``company_id``
    (when it is one of the user's allowed companies); None unpins."""
    setattr(env.all, ATTRIBUTE, (user_id, company_id) if company_id else None)
    # a value read before the pin (a test's transaction) must be read again
    env['res.users'].invalidate_cache(['company_id'], [user_id])


def pinned(env):
    """(user id, company id) pinned in ``env``'s block, or None."""
    return getattr(env.all, ATTRIBUTE, None)


def pinned_company(env, user_id):
    """The company ``user_id`` is pinned to in ``env``'s block, or None."""
    user_company = pinned(env)
    return user_company[1] if user_company and user_company[0] == user_id else None
