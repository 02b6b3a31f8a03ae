# make run   — run the camera service (a real camera if one is found, else a synthetic scene)
# make test  — lint and run the test suite
# make bench — measure the monitoring path, write docs/benchmarks.md
# Each target sets up what it needs (Debian packages when root, .venv, the package); the set-up
# is skipped on later calls until setup.cfg, pyproject.toml, deploy/sysdeps.sh or the model
# manifest change. The face-detection models are provisioned into models/ (checked by sha256).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
ARGS   ?=

.PHONY: run test bench lint setup clean

setup: $(STAMP)

$(STAMP): setup.cfg pyproject.toml deploy/sysdeps.sh privacy/models/manifest.json
	bash deploy/sysdeps.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	$(BIN)/python -m privacy.models.provision --dest models
	touch $@

run: $(STAMP)
	$(BIN)/camera-app run --config deploy/dev.yaml $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

test: lint
	$(BIN)/python -m pytest $(ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench.monitoring --output docs/benchmarks.md

clean:
	rm -rf $(VENV) var build *.egg-info .pytest_cache .ruff_cache
