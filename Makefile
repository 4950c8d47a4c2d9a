# ironwave.baremetal — two commands on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
COLL_LINK := .build/collections/ansible_collections/ironwave/baremetal
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(CURDIR)/$(BIN):$(PATH)
export ANSIBLE_NOCOLOR ?= $(if $(CI),1,)
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help venv link demo demo-nova deploy nova-up stop clean test units sanity lint integration nova molecule benchmark

help:
	@echo "make demo   - set up .venv, start the local Ironic, enroll and deploy a fleet in waves, print the report"
	@echo "make test   - set up .venv and run every test (unit, sanity, lint, integration, molecule)"
	@echo "make demo-nova - start the local Nova stack, build 12 servers through Nova in waves, print the cross-check"
	@echo "make nova-up - start the local Nova + Placement stack and its Ironic (playbooks/local_nova.yml)"
	@echo "make stop   - stop the local Ironic and the local Nova stack (by their recorded PIDs)"
	@echo "make clean  - stop the local Ironic and remove all local state (.venv, .state, .build)"

$(STAMP): requirements/dev.txt requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements/dev.txt -r requirements.txt
	@touch $@

venv: $(STAMP) link

link:
	@mkdir -p $(dir $(COLL_LINK))
	@test -L $(COLL_LINK) || ln -sfn $(CURDIR) $(COLL_LINK)

demo: venv
	$(BIN)/ansible-playbook playbooks/demo.yml

demo-nova: venv
	$(BIN)/ansible-playbook playbooks/demo_nova.yml

nova-up: venv
	$(BIN)/ansible-playbook playbooks/local_nova.yml

stop:
	@if [ -x $(BIN)/ansible-playbook ]; then \
	  $(BIN)/ansible-playbook playbooks/local_ironic.yml -e local_ironic_state=stopped && \
	  $(BIN)/ansible-playbook playbooks/local_nova.yml -e local_nova_state=stopped; \
	else echo "no .venv: nothing was started"; fi

clean: stop
	rm -rf .state .build collections reports tests/output .pytest_cache $(VENV)

test: venv
	bash tests/run-all.sh

units: venv
	$(BIN)/pytest -q tests/unit

sanity: venv
	bash tests/sanity.sh

lint: venv
	$(BIN)/ansible-lint --profile production

integration: venv
	$(BIN)/pytest -q tests/integration

nova: venv
	$(BIN)/pytest -q tests/nova

molecule: venv
	bash tests/molecule.sh

# make benchmark [BENCH_CASE=small|large|all|nova|scale]: see tests/benchmarks/run.sh, docs/benchmarks-scale.md
BENCH_CASE ?= small
benchmark: venv
	bash tests/benchmarks/run.sh --case $(BENCH_CASE)
