# riskstream: local set-up, checks and runs. Everything the project needs is installed from here:
# uv (PyPI) -> the locked Python environment (.venv), Maven -> the JVM jars (.cache/jars).
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.9
TOOLS := .cache/tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
RISKSTREAM := $(VENV)/bin/riskstream
JAR_STAMP := .cache/jars/.complete
LIFECYCLE_JAR := riskstream/jars/riskstream-lifecycle.jar
LIFECYCLE_SOURCES := jvm/lifecycle/pom.xml $(shell find jvm/lifecycle/src -name '*.java')

.PHONY: help install jars lifecycle-jar test lint typecheck check demo run kafka-start kafka-stop clean-state wheel

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(UV):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --locked --extra local --quiet
	@touch $@

$(JAR_STAMP): jvm/spark/pom.xml jvm/kafka/pom.xml
	@command -v mvn >/dev/null || { echo "Maven (mvn) is needed once to fetch the JVM jars: apt-get install maven"; exit 3; }
	@command -v java >/dev/null || { echo "Java 17+ is needed: apt-get install openjdk-17-jre-headless"; exit 3; }
	rm -rf .cache/jars/spark .cache/jars/kafka
	mvn -q -B -f jvm/spark/pom.xml dependency:copy-dependencies -DoutputDirectory=$(CURDIR)/.cache/jars/spark
	mvn -q -B -f jvm/kafka/pom.xml dependency:copy-dependencies -DoutputDirectory=$(CURDIR)/.cache/jars/kafka
	@touch $@

$(LIFECYCLE_JAR): $(LIFECYCLE_SOURCES)
	@command -v mvn >/dev/null || { echo "Maven (mvn) is needed to build jvm/lifecycle: apt-get install maven"; exit 3; }
	mvn -q -B -f jvm/lifecycle/pom.xml package
	@mkdir -p $(@D)
	cp jvm/lifecycle/target/riskstream-lifecycle.jar $@

install: $(VENV)/.synced $(JAR_STAMP) $(LIFECYCLE_JAR) ## Install the Python environment, fetch the JVM jars, build the lifecycle operator

jars: $(JAR_STAMP) ## Fetch Spark's Kafka source, Delta and Apache Kafka from Maven Central into .cache/jars

demo: install ## The main job on the embedded defaults (local target): the whole flow, end to end
	$(RISKSTREAM) demo

test: install ## Run the test suite (real Kafka broker, Spark, Delta, Snowflake emulator), two files at a time
	$(PY) -m pytest -n 2 --dist loadfile

lint: install ## ruff
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install ## mypy on the package code
	$(VENV)/bin/mypy

check: lint typecheck test ## Everything CI runs

lifecycle-jar: $(LIFECYCLE_JAR) ## Build silver's JVM lifecycle operator (jvm/lifecycle) into riskstream/jars

wheel: $(UV) $(LIFECYCLE_JAR) ## Build the wheel the Databricks bundle deploys (it carries the lifecycle jar)
	$(UV) build --wheel --out-dir dist

.PHONY: docs-images
docs-images: install ## Redraw docs/images/flow.svg from docs/images/flow.py
	$(PY) docs/images/flow.py

.PHONY: bench
bench: install ## Benchmarks: producer events/s; pipeline throughput, memory and state; event -> risk latency (out/bench/)
	$(PY) -m benchmarks.producer
	$(PY) -m benchmarks.pipeline
	$(PY) -m benchmarks.latency

kafka-start: install ## Start the local Kafka broker
	$(RISKSTREAM) kafka start

kafka-stop: install ## Stop the local Kafka broker
	$(RISKSTREAM) kafka stop

clean-state: ## Stop the broker and delete local tables, checkpoints and emulator files
	-$(RISKSTREAM) kafka stop
	rm -rf .state
