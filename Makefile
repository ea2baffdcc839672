# The two commands (see README): `make demo` and `make test`. Both set up what they need first.
.PHONY: setup setup-dev demo test test-all bench

setup:
	bash scripts/setup.sh

setup-dev:
	bash scripts/setup.sh --dev

demo: setup
	.venv/bin/storyaudio render examples/news.tsv -o outputs/news --mp3

test: setup-dev
	.venv/bin/python -m pytest -q

# everything, the slow checks too (several minutes)
test-all: setup-dev
	STORYAUDIO_SLOW=1 .venv/bin/python -m pytest -q

bench: setup-dev
	.venv/bin/python bench/mix_bench.py
	.venv/bin/python bench/loudness_bench.py
	.venv/bin/python bench/speech_voices.py
	.venv/bin/python bench/music_composer.py
	.venv/bin/python bench/effects_match.py
	.venv/bin/python bench/script_columns.py
