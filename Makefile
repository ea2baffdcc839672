# The two commands (see README): `make demo` and `make test`. Both set up what they need first.
.PHONY: setup setup-dev demo test test-slow test-all bench bench-speed studio

setup:
	bash scripts/setup.sh

setup-dev:
	bash scripts/setup.sh --dev

demo: setup
	.venv/bin/storyaudio render examples/news.tsv -o outputs/news --mp3

test: setup-dev
	.venv/bin/python -m pytest -q

# the slow checks alone (about 3 minutes; CI runs them after `make test`)
test-slow: setup-dev
	STORYAUDIO_SLOW=1 .venv/bin/python -m pytest -q -m slow

# everything, the slow checks too (several minutes)
test-all: setup-dev
	STORYAUDIO_SLOW=1 .venv/bin/python -m pytest -q

# the browser studio on http://127.0.0.1:7860 (renders into outputs/studio/)
studio: setup-dev
	.venv/bin/storyaudio studio

bench: setup-dev
	.venv/bin/python bench/mix_bench.py
	.venv/bin/python bench/loudness_bench.py
	.venv/bin/python bench/speech_voices.py
	.venv/bin/python bench/music_composer.py
	.venv/bin/python bench/effects_match.py
	.venv/bin/python bench/script_columns.py

# render speed and memory (issue 16's ratios: start-up, the edit -> listen loop, a 30-minute drama; ~10 min)
bench-speed: setup-dev
	.venv/bin/python bench/render_speed.py
