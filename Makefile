# The two commands (see README): `make demo` and `make test`.
.PHONY: demo demo-fresh test setup lint

# Resumes the previous demo's store (in .local/demo); demo-fresh deletes it first.
demo:
	bash scripts/demo.sh

demo-fresh:
	DEMO_FRESH=1 bash scripts/demo.sh

test:
	bash scripts/test.sh

setup:
	bash scripts/setup.sh

lint:
	.venv/bin/ruff check monitor alerts dashboard tests scripts benchmarks
	.venv/bin/mypy
