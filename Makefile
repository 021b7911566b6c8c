# Development entry points. `make setup` once, then `make test` / `make run`.
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
RUN_DB := background_job
TEST_DB ?= background_job_test
export BACKGROUND_JOB_TEST_DB := $(TEST_DB)
TESTS ?= tests shim/tests

.PHONY: setup test test-faults run worker bench bench-ui bench-peers pot clean

setup:
	bash scripts/setup.sh

test:
	$(BIN)/python scripts/ensure_db.py $(TEST_DB) --install=background_job,background_job_test
	$(BIN)/python -m pytest --odoo-config=odoo.conf --odoo-database=$(TEST_DB) \
	    $(PYTEST_ARGS) $(TESTS)

# The fault suite alone (tests/test_faults_*.py; also part of `make test`):
# hung jobs, Stop, shutdown, lost machines, restarts, cut connections.
test-faults:
	$(MAKE) test TESTS="$(sort $(wildcard tests/test_faults_*.py))"

run:
	$(BIN)/python scripts/ensure_db.py $(RUN_DB) --demo
	$(BIN)/odoo -c odoo.conf -d $(RUN_DB) --db-filter='^$(RUN_DB)$$'

worker:
	$(BIN)/odoo --addons-path=$(shell $(BIN)/python -c 'import configparser as c; p=c.ConfigParser(); p.read("odoo.conf"); print(p["options"]["addons_path"])') \
	    queue-worker -c odoo.conf -d $(RUN_DB)

# SMOKE=1: a short run that only proves the command still works (the tests
# run it); BENCH_DB=NAME: another database than the default.
bench:
	$(BIN)/python -m bench $(if $(SMOKE),--smoke) $(if $(BENCH_DB),--db $(BENCH_DB))

# The Jobs list, the overview and the metrics with 1,000,000 jobs
# (bench/ui.py; RUNS=N, ROWS=N).
bench-ui:
	$(BIN)/python -m bench.ui $(if $(ROWS),--rows $(ROWS)) $(if $(RUNS),--runs $(RUNS)) \
	    $(if $(SMOKE),--smoke) $(if $(BENCH_DB),--db $(BENCH_DB))

# This addon beside OCA queue_job, Celery and RQ (bench/peers/; their own
# virtualenv, bench/.venv-peers, made on first run). BENCH_DB=PREFIX: the
# databases' prefix; SYSTEMS=ours,oca,celery,rq: some of them only.
bench-peers:
	$(BIN)/python -m bench.peers $(if $(SMOKE),--smoke) $(if $(BENCH_DB),--db $(BENCH_DB)) \
	    $(if $(SYSTEMS),--systems $(SYSTEMS))

# i18n/background_job.pot from the test database, with Odoo's exporter
# (scripts/export_pot.py); then update i18n/zh_CN.po (tests/test_i18n.py).
pot:
	$(BIN)/python scripts/ensure_db.py $(TEST_DB) --install=background_job,background_job_test
	$(BIN)/python scripts/export_pot.py $(TEST_DB)

clean:
	rm -rf $(VENV) odoo.conf test-output
