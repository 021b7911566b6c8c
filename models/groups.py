"""The addon's security groups, by xml id (security/background_job_groups.xml):
a module of their own, so that a model file can use them without importing
another model file (which would define its model first, before the tables
its init() relies on)."""

MANAGER_GROUP = 'background_job.background_job_group_manager'
