# make run   — run the camera service (a real camera if one is found, else a synthetic scene)
# make test  — lint (ruff, ruff format, mypy, import contracts) and run the test suite
# make bench — measure the monitoring path, the privacy stage (against deface), the owner API (gates,
#              event pages at 10,000 events, clips against a static server) and
#              the live view (glass-to-glass latency, viewers, relay), 1-30 ticketed relay
#              viewers of a kindergarten camera, MQTT events, cameras per device (monitoring
#              only / one streaming), a 20-minute soak (4 viewers and API traffic: RSS,
#              descriptors, threads over time), what per-viewer marks would cost a relay and what
#              its rotating group marks cost (the real marker), write docs/benchmarks.md and
#              docs/privacy-detectors.md
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
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Debian packages only the tests need (a browser, the relay)
TEST_STAMP := $(VENV)/.installed-test
$(TEST_STAMP): $(STAMP) deploy/sysdeps.sh
	bash deploy/sysdeps.sh --test
	touch $@

test: lint $(TEST_STAMP)
	$(BIN)/python -m pytest $(ARGS)

# The peer tool of the privacy benchmark, in its own venv: deface needs the opencv-python build,
# which must not share a venv with our opencv-contrib-python.
PEER_STAMP := .venv-peer/.installed
$(PEER_STAMP):
	test -x .venv-peer/bin/python || $(PYTHON) -m venv .venv-peer
	.venv-peer/bin/python -m pip install --quiet --disable-pip-version-check \
		'deface==1.5.0' 'onnx>=1.16,<2' 'onnxruntime>=1.20,<2'
	touch $@

bench: $(STAMP) $(TEST_STAMP) $(PEER_STAMP)
	$(BIN)/python -m bench.monitoring --output docs/benchmarks.md
	$(BIN)/python -m bench.footage --dest var/faces-extra
	$(BIN)/python -m bench.privacy --output docs/benchmarks.md
	$(BIN)/python -m bench.api --output docs/benchmarks.md
	$(BIN)/python -m bench.recordings --output docs/benchmarks.md
	$(BIN)/python -m bench.onboarding --output docs/benchmarks.md
	$(BIN)/python -m bench.live --output docs/benchmarks.md
	$(BIN)/python -m bench.relay_viewers --output docs/benchmarks.md
	$(BIN)/python -m bench.mqtt --output docs/benchmarks.md
	$(BIN)/python -m bench.cameras --output docs/benchmarks.md
	$(BIN)/python -m bench.soak --output docs/benchmarks.md
	$(BIN)/python -m bench.relay_marks --output docs/benchmarks.md
	$(BIN)/python -m bench.relay_marker --output docs/benchmarks.md
	$(BIN)/python -m bench.detectors --output docs/privacy-detectors.md

clean:
	rm -rf $(VENV) .venv-peer var build *.egg-info .pytest_cache .ruff_cache
