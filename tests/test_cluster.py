"""Clips on a Ray cluster (``--executor ray``): a local Ray instance (``ray.init(num_cpus=2)``) renders the
same bytes as the local executor, a killed worker is retried once, a worker that dies twice is that row's
error with nothing written, and without Ray the option is a one-line exit 2."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from helpers import TONE, row

from storyaudio import backends as registry
from storyaudio.backends.tone import ToneBackend
from storyaudio.cli import main
from storyaudio.errors import RenderError
from storyaudio.pipeline import RenderConfig, render

ray = pytest.importorskip("ray", reason="the cluster executor needs ray: pip install 'storyaudio[cluster]'")


class CrashBackend(ToneBackend):
    """The tone backend, but a row saying CRASH kills the Ray worker rendering it (as a segfault would)."""

    name = "crash"

    def render(self, event, sample_rate):
        if "CRASH" in event.content:
            os._exit(3)
        return super().render(event, sample_rate)


class SlowToneBackend(ToneBackend):
    """The tone backend taking a little while per clip, so a test can kill its worker in mid-render."""

    name = "slow-tone"

    def render(self, event, sample_rate):
        import time

        time.sleep(0.25)
        return super().render(event, sample_rate)


@pytest.fixture(scope="module")
def cluster():
    tests = Path(__file__).resolve().parent  # the workers import storyaudio and this module's test backends
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
             runtime_env={"env_vars": {"PYTHONPATH": f"{tests.parent}{os.pathsep}{tests}"}})
    yield ray
    ray.shutdown()


@pytest.fixture
def fake_backends(monkeypatch):
    monkeypatch.setitem(registry.BUILTIN, "crash", "test_cluster:CrashBackend")
    monkeypatch.setitem(registry.BUILTIN, "slow-tone", "test_cluster:SlowToneBackend")


def _files(out: Path) -> dict[str, bytes]:
    """Every file a render wrote, by path; timeline.json without its timings (seconds differ run to run). Hidden
    files are left out: the manifest and the re-render record (.storyaudio-reuse/) hold file stamps."""
    import json

    got = {}
    for p in sorted(out.rglob("*")):
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(out).parts):
            data = p.read_bytes()
            if p.name == "timeline.json":
                d = json.loads(data)
                d.pop("timings")
                data = json.dumps(d).encode()
            got[p.relative_to(out).as_posix()] = data
    return got


def embedded_scene():
    """The embedded backends (Piper, the composer, foley), short: a bed under two lines and an effect."""
    return {"title": "Harbour", "rows": [
        row("music", "background", 1, None, -32, "begin", "calm piano"),
        row(character="Ann", content="The boat is late tonight.", volume=-15),
        row("sound_effect", content="a door creaks", duration=1, volume=-20),
        row(character="Bob", content="It will come.", volume=-15),
        {**row("music", "background", 1, None, None, "end", None), "duration": None},
    ]}


def test_ray_renders_the_same_bytes_as_the_local_executor(cluster, tmp_path):
    local = render(embedded_scene(), tmp_path / "local", RenderConfig(cache=False, picture=False))
    on_ray = render(embedded_scene(), tmp_path / "ray", RenderConfig(cache=False, picture=False, executor="ray"))
    assert sorted(local.rendered_rows) == sorted(on_ray.rendered_rows) == [1, 2, 3, 4]
    a, b = _files(tmp_path / "local"), _files(tmp_path / "ray")
    assert a.keys() == b.keys() and "mix.wav" in a and any(k.startswith("stems/") for k in a)
    assert [k for k in a if a[k] != b[k]] == []


@pytest.mark.slow  # a worker killed and replaced (2-4 s); CI runs it (make test-slow)
def test_a_killed_worker_is_retried_once_and_the_render_matches(cluster, tmp_path, fake_backends):
    from storyaudio.cluster import RayExecutor

    script = {"title": "Kill", "rows": [row(content=f"line {i}") for i in range(6)]}
    use = {**TONE, "speech": "slow-tone"}
    local = render(script, tmp_path / "local", RenderConfig(use=use, cache=False, picture=False))
    executor = RayExecutor()
    killed = []

    def kill_first_worker(stage, done, total):
        if stage == "clips" and done == 1 and not killed:
            (actor,) = executor.actors()  # one node: one actor for the backend
            killed.append(ray.get(actor.pid.remote()))
            ray.kill(actor)

    try:
        on_ray = render(script, tmp_path / "ray", RenderConfig(use=use, cache=False, picture=False),
                        on_progress=kill_first_worker, executor=executor)
        after = [ray.get(a.pid.remote()) for a in executor.actors()]
        assert after and killed[0] not in after  # fresh workers took over the batches left
    finally:
        executor.close()
    assert len(on_ray.rendered_rows) == 6
    assert _files(tmp_path / "ray") == _files(tmp_path / "local") and local.loudness == on_ray.loudness


@pytest.mark.slow  # a worker killed and replaced (2-4 s); CI runs it (make test-slow)
def test_a_worker_dying_twice_is_that_rows_error_and_nothing_is_written(cluster, tmp_path, fake_backends):
    out = tmp_path / "show"
    script = {"title": "Crash", "rows": [row(content="fine"), row(content="this one will CRASH"),
                                         row(content="fine too")]}
    render(script, out, RenderConfig(use=TONE, picture=False))  # a good render first (the tone backend)
    before = _files(out)
    with pytest.raises(RenderError) as err:
        render(script, out, RenderConfig(use={**TONE, "speech": "crash"}, cache=False, executor="ray"))
    assert err.value.row == 2 and "died twice" in str(err.value)
    assert _files(out) == before  # the previous render is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["show"]  # no staging folder left beside it


def test_several_scripts_share_the_cluster_each_into_its_own_folder(cluster, tmp_path, capsys):
    folder = tmp_path / "season"
    folder.mkdir()
    for name, words in (("ep1", "one two"), ("ep2", "three four five")):
        import json

        (folder / f"{name}.json").write_text(json.dumps({"title": name, "rows": [row(content=words)]}))
    args = [a for kind, name in TONE.items() for a in ("--use", f"{kind}={name}")]
    code = main(["render", str(folder), "-o", str(tmp_path / "out"), "--executor", "ray", "--no-picture", *args])
    assert code == 0
    for name in ("ep1", "ep2"):
        assert (tmp_path / "out" / name / "mix.wav").stat().st_size > 1000
    printed = capsys.readouterr()
    assert "ep1: done" in printed.err and "ep2: done" in printed.err  # a progress line per script
    assert "ep1:" in printed.out and "ep2:" in printed.out


def test_executor_ray_without_ray_is_one_line_and_exit_2(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if ray were not installed
    args = [a for kind, name in TONE.items() for a in ("--use", f"{kind}={name}")]
    script = tmp_path / "s.json"
    script.write_text('{"title": "t", "rows": [{"audio_type": "speech", "layout": "foreground", "id": null, '
                      '"character": "A", "volume": null, "action": null, "content": "hi", "duration": "auto"}]}')
    assert main(["render", str(script), "-o", str(tmp_path / "o"), "--executor", "ray", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "storyaudio[cluster]" in err[0] and not (tmp_path / "o").exists()
    assert main(["validate", str(script), "--use", "speech=tone"]) == 0  # validate does not need ray
