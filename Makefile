# patchops.containers — developer entry points. See CONTRIBUTING.md.
SHELL := /bin/bash
VENV ?= $(CURDIR)/.venv
PY := $(VENV)/bin/python
COLL_LINK := build/ansible_collections/patchops/containers
SANITY_TREE := build/sanity/ansible_collections/patchops/containers
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/build
export PATH := $(VENV)/bin:$(PATH)

.PHONY: all venv link lab-up lab-down lab-wait sanity lint units integration reliability lab-suites molecule test demo demo-check build galaxy-import clean

all: test

venv: $(VENV)/.installed
$(VENV)/.installed: requirements-test.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q -r requirements-test.txt
	touch $@

link:
	@mkdir -p $(dir $(COLL_LINK)) && ln -sfn $(CURDIR) $(COLL_LINK)

lab-up: venv
	tests/lab/lab up

lab-down:
	tests/lab/lab down

# ansible-test wants the collection under .../ansible_collections/<ns>/<name>: copy what git
# tracks (plus new untracked files) there.
SANITY_VENV := $(CURDIR)/.venv-sanity
$(SANITY_VENV)/.installed: requirements-test.txt
	python3 -m venv $(SANITY_VENV)
	$(SANITY_VENV)/bin/pip install -q "$$(grep '^ansible-core' requirements-test.txt)"
	touch $@

sanity: $(SANITY_VENV)/.installed
	@pipv=$$(grep -oP "pip='\K[0-9.]+" $(SANITY_VENV)/lib/python3*/site-packages/ansible_test/_internal/python_requirements.py); \
	  mkdir -p ~/.ansible/test/cache && cp .ci/get_pip_offline.py ~/.ansible/test/cache/get_pip_$${pipv//./_}.py
	rm -rf build/sanity && mkdir -p $(SANITY_TREE)
	git ls-files -co --exclude-standard | grep -v '^build/' | rsync -a --ignore-missing-args --files-from=- . $(SANITY_TREE)/
	cd $(SANITY_TREE) && git init -q && git add -A && \
	  $(SANITY_VENV)/bin/ansible-test sanity --python 3.11 --local --requirements --color no

lint: venv link
	ansible-lint --profile production

units: venv link
	$(PY) -m pytest tests/unit -q

# One shard per engine kind, run at once, each on its own lab hosts (tests/integration/shards).
integration: venv link
	PY=$(PY) tests/integration/shards

# Faults (engine killed, link cut, journal disk full, concurrent runs: once per engine kind, as
# shards like the integration suite's), the bad input corpus and the secrets check, then alone the
# registry stopped for every host; see docs/reliability.md.
reliability: venv link
	PY=$(PY) SUITES=tests/reliability tests/integration/shards
	PY=$(PY) SUITES=tests/reliability tests/integration/shards serial

# What `make test` runs against the lab: each engine kind's shard runs its integration tests, then
# its reliability tests, on its own hosts (no shard waits for the slowest one's integration
# tests); then, alone, what touches every host.
# Then, on the hosts a shard is done with while the others go on: the demo check on the Docker 20.10
# hosts, the molecule scenarios on the first Docker 26 host (after the serial shard on a lab without one);
# after the serial shard, alone (it kills engines and cuts links on the last host of each kind), the
# short fault campaign; BESIDE_CAMPAIGN: a command run at the same time, on other hosts (CI: bench-quick,
# on lab4/lab5).
MOLECULE_HOST = $(shell . /var/lib/patchops-lab/lab.env 2>/dev/null && set -- $$PATCHOPS_LAB_DOCKER26_HOSTS && echo $$1)
# LAB_UP_LOG (CI): the log of a `lab up` running in the background (.ci/run); its exit status is in
# the same name with .rc. The lab suites wait for it (polling for that file), then show the log.
LAB_UP_LOG ?=
lab-wait:
	@if [ -n "$(LAB_UP_LOG)" ]; then rc=$(basename $(LAB_UP_LOG)).rc; \
	  for i in $$(seq 900); do [ -f $$rc ] && break; sleep 1; done; cat $(LAB_UP_LOG); \
	  [ "$$(cat $$rc 2>/dev/null)" = 0 ] || { echo "lab up failed or took over 15 minutes ($(LAB_UP_LOG))"; exit 1; }; fi

lab-suites: venv link lab-wait
	host=$(MOLECULE_HOST); PY=$(PY) SUITES="tests/integration tests/reliability" \
	  AFTER_docker20='$(MAKE) --no-print-directory demo-check' \
	  AFTER_docker26="$${host:+PATCHOPS_MOLECULE_HOST=$$host $(MAKE) --no-print-directory molecule}" \
	  tests/integration/shards
	PY=$(PY) SUITES=tests/reliability tests/integration/shards serial
	@$(if $(BESIDE_CAMPAIGN),echo "lab-suites: beside the campaign: $(BESIDE_CAMPAIGN) (log: build/beside-campaign.log)"; \
	  ( $(BESIDE_CAMPAIGN) ) >build/beside-campaign.log 2>&1 & beside=$$!;) \
	$(MAKE) --no-print-directory campaign-short; rc=$$?; \
	$(if $(BESIDE_CAMPAIGN),wait $$beside || { echo "lab-suites: $(BESIDE_CAMPAIGN) FAILED"; rc=1; }; \
	  cat build/beside-campaign.log;) exit $$rc
	[ -n "$(MOLECULE_HOST)" ] || $(MAKE) --no-print-directory molecule

test: sanity lint build galaxy-import units lab-suites

build: venv
	ansible-galaxy collection build --force --output-path build/

# Galaxy's own import checks on the built tarball, as Galaxy runs them on upload: ansible-doc of
# every plugin, role READMEs, its ansible-lint (its ansible-test step off: sanity runs above). It
# exits 0 on findings it only logs, so any ERROR or WARNING line fails here. Own venv: it pins
# its own ansible-core and ansible-lint.
GALAXY_VENV := $(CURDIR)/.venv-galaxy
TARBALL = build/patchops-containers-$(shell sed -n 's/^version: *//p' galaxy.yml).tar.gz
$(GALAXY_VENV)/.installed: requirements-galaxy.txt
	python3 -m venv $(GALAXY_VENV)
	$(GALAXY_VENV)/bin/pip install -q -r requirements-galaxy.txt
	touch $@

galaxy-import: build $(GALAXY_VENV)/.installed
	set -o pipefail; cd build && PATH=$(GALAXY_VENV)/bin:$$PATH GALAXY_IMPORTER_CONFIG=$(CURDIR)/.ci/galaxy-importer.cfg \
	  $(GALAXY_VENV)/bin/python -m galaxy_importer.main $(CURDIR)/$(TARBALL) 2>&1 | tee galaxy-importer.log
	@! grep -E '^(ERROR|WARNING)' build/galaxy-importer.log || \
	  { echo 'galaxy-importer: Galaxy would refuse or flag the collection (build/galaxy-importer.log)'; exit 1; }

# Role scenarios on the lab (extensions/molecule/*): delegated driver, the lab's inventory, on lab1
# (inventory and stage: lab2) or on PATCHOPS_MOLECULE_HOST.
MOLECULE_SCENARIOS := $(notdir $(patsubst %/molecule.yml,%,$(wildcard extensions/molecule/*/molecule.yml)))
molecule: venv link
	@for s in $(MOLECULE_SCENARIOS); do echo "molecule: $$s"; molecule test -s $$s >build/molecule-$$s.log 2>&1 \
	  || { tail -60 build/molecule-$$s.log; echo "molecule scenario $$s FAILED (log: build/molecule-$$s.log)"; exit 1; }; \
	  echo "molecule: $$s passed"; done

# Lab up, a v1 fleet, its inventory report, v2 staged, patch.yml (canary + wave, one broken patch
# rolled back), the report checked against the engines. See demo/run.
demo: venv link
	demo/run

# The demo on the lab that is up, without its inventory report: the patch report checked against
# the engines (demo/check_report.py, demo/expected.json); part of `make test` (lab-suites, on lab1-lab3
# once the Docker 20.10 shard is done with them); it removes its fleet when the check passes.
demo-check: venv link
	demo/run --check

bench: venv link
	bench/run $(BENCH_ARGS)

bench-quick: venv link
	bench/run --quick $(BENCH_ARGS)

clean:
	rm -rf build

# The randomized fault campaign (tests/campaign, docs/reliability.md#the-fault-campaign) on the last
# lab host of each engine kind. Long: ROUNDS rounds from SEED (default: from the clock), the registry
# stopped for every host among the faults (run it when nothing else uses the lab), the three kinds'
# rounds at the same time (--lanes; a registry-stop round runs alone); its summary in bench/results/. Short (CI): the regression seeds, then fresh rounds within ~4 minutes, in lanes too.
ROUNDS ?= 500
SEED ?=
.PHONY: campaign campaign-short
campaign: venv link
	$(PY) tests/campaign/campaign.py --regressions --rounds $(ROUNDS) $(if $(SEED),--seed $(SEED)) --shared-faults --lanes \
	  --json bench/results/campaign-$$(date -u +%Y%m%d-%H%M%S).json

campaign-short: venv link
	$(PY) -m pytest tests/campaign -q -s -p no:cacheprovider
