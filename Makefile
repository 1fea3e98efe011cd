# The two commands (see README): `make demo` and `make test`.
.PHONY: demo test setup lint

demo:
	bash scripts/demo.sh

test:
	bash scripts/test.sh

setup:
	bash scripts/setup.sh

lint:
	.venv/bin/ruff check monitor alerts dashboard tests scripts benchmarks
	.venv/bin/mypy
