"""CLIPSonic: train -> save -> reload -> generate, the learning test, the backend and the errors a user meets.

Offline: a tiny random CLIP is built from a config and saved (tokenizer and image processor included), and a
learning set is generated (coloured pictures and MPEG-4 videos paired with tones of three pitches and with
noise, with captions). The tiny preset trains for 150 steps on one CPU thread (about 40 s on a busy 2-core
machine); the learning test then asks for unseen pictures of each class and for each class's captions, and a
spectral measure (nearest mean band profile) says which class each generated sound belongs to. The same
measure applied to the untrained model (the same recipe with --steps 0) must fail.

A random CLIP's text embeddings share no meaning with its image embeddings, so zero-shot text queries cannot
be learned here: for them the test checks only valid audio of the right length and rate.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

os.environ["HF_HUB_OFFLINE"] = "1"  # before transformers is imported: never reach for the hub

import numpy as np
import pytest
import soundfile as sf

torch = pytest.importorskip("torch", reason="clipsonic needs torch: pip install 'storyaudio[clipsonic]'")
pytest.importorskip("diffusers", reason="clipsonic needs diffusers")
pytest.importorskip("av", reason="clipsonic reads videos with PyAV: pip install av")

from storyaudio.backends import Event, create_backend  # noqa: E402
from storyaudio.backends.clipsonic import synthetic as S  # noqa: E402
from storyaudio.cli import main  # noqa: E402
from storyaudio.errors import ScriptError, UserError  # noqa: E402

STEPS = 150  # the tiny preset's default: the classes are learned well before
TIMINGS: dict[str, float] = {}


def _cli(*args: str) -> int:
    return main(["clipsonic", *[str(a) for a in args]])


def _train(data, out, clip, *extra) -> int:
    return _cli("train", data, "-o", out, "--clip-model", clip, "--preset", "tiny", "--device", "cpu", "--threads", "1",
                "-q", *extra)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The tiny CLIP, the learning set, unseen query pictures, and one shared feature cache."""
    root = tmp_path_factory.mktemp("clipsonic")
    torch.set_num_threads(1)
    S.build_tiny_clip(root / "clip")
    S.write_learning_set(root / "data")
    queries = S.write_queries(root / "queries")
    return {"root": root, "clip": root / "clip", "data": root / "data", "queries": queries,
            "features": root / "features"}


@pytest.fixture(scope="module")
def trained(world):
    t0, c0 = time.perf_counter(), time.process_time()
    code = _train(world["data"], world["root"] / "ckpt", world["clip"], "--steps", STEPS, "--features",
                  world["features"])
    TIMINGS["train_wall"], TIMINGS["train_cpu"] = time.perf_counter() - t0, time.process_time() - c0
    assert code == 0
    return world["root"] / "ckpt"


@pytest.fixture(scope="module")
def untrained(world, trained):
    """The same recipe with no training step: random weights, same statistics, same files."""
    assert _train(world["data"], world["root"] / "ckpt0", world["clip"], "--steps", "0", "--features",
                  world["features"]) == 0
    return world["root"] / "ckpt0"


# -- import cost ----------------------------------------------------------------------------------------------
def test_importing_the_backend_and_the_cli_imports_no_torch():
    code = ("import sys, storyaudio.cli, storyaudio.backends.clipsonic as c; c.ClipSonicBackend.Options(); "
            "print(sorted(m for m in ('torch', 'transformers', 'diffusers', 'av', 'PIL') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# -- training -------------------------------------------------------------------------------------------------
def test_training_writes_a_self_contained_resumable_checkpoint(world, trained):
    meta = json.loads((trained / "clipsonic.json").read_text())
    assert meta["format"] == "storyaudio-clipsonic" and meta["version"] == 1
    assert meta["clip_model"] == str(world["clip"].resolve()) and meta["clip_dim"] == 32
    assert meta["model"]["preset"] == "tiny" and meta["model"]["mel"]["sample_rate"] == 16000
    assert meta["steps"] == STEPS and meta["prior_steps"] == STEPS and meta["has_prior"]
    assert meta["items"] == 24 and meta["captions"] == 24  # 4 classes x (4 pairs + 2 videos), all captioned
    for part in ("unet/config.json", "unet/diffusion_pytorch_model.safetensors", "conditioner.safetensors",
                 "scheduler/scheduler_config.json", "prior/config.json", "prior_scheduler/scheduler_config.json",
                 "training/state.pt"):
        assert (trained / part).is_file(), part
    assert len(list(world["features"].glob("*.npz"))) == 24  # cached once, shared with the untrained model
    lines = [json.loads(x) for x in (trained / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines] == list(range(10, STEPS + 1, 10))
    assert lines[-1]["loss"] < 0.5 * lines[0]["loss"]  # the denoiser learned something
    assert lines[-1]["prior_loss"] < lines[0]["prior_loss"]


def test_resume_continues_and_refuses_to_overwrite(world, trained, tmp_path, capsys):
    ckpt = tmp_path / "ckpt"
    shutil.copytree(trained, ckpt)
    assert _train(world["data"], ckpt, world["clip"], "--steps", "30", "--features", world["features"]) == 2
    assert "--resume" in capsys.readouterr().err
    assert _cli("train", world["data"], "-o", ckpt, "--resume", "--steps", STEPS + 6, "--device", "cpu", "-q",
                "--threads", "1", "--features", world["features"]) == 0
    meta = json.loads((ckpt / "clipsonic.json").read_text())
    assert meta["steps"] == STEPS + 6
    steps = [json.loads(x)["step"] for x in (ckpt / "metrics.jsonl").read_text().splitlines()]
    assert steps[-1] == STEPS + 6 and steps[-2] == STEPS  # appended after the first run's lines
    assert torch.load(ckpt / "training/state.pt", weights_only=False)["step"] == STEPS + 6
    # the clip cache keys on the backend's version: the weights trained further must not give the old clips
    versions = {create_backend("clipsonic", "sound_effect", {"model": str(p)}).version for p in (trained, ckpt)}
    assert len(versions) == 2


def test_sizes_are_options_cross_attention_included(world, tmp_path, capsys):
    ckpt = tmp_path / "attn"
    assert _train(world["data"], ckpt, world["clip"], "--steps", "2", "--features", world["features"],
                  "--size", "attention_levels=1", "--size", "cond_tokens=3") == 0
    sizes = json.loads((ckpt / "clipsonic.json").read_text())["model"]
    assert sizes["attention_levels"] == 1 and sizes["cond_tokens"] == 3 and sizes["channels"] == [16, 32]
    unet = json.loads((ckpt / "unet" / "config.json").read_text())
    assert unet["down_block_types"] == ["DownBlock2D", "CrossAttnDownBlock2D"]
    assert unet["mid_block_type"] == "UNetMidBlock2DCrossAttn"
    assert _cli("generate", "--model", ckpt, "--text", "a low hum", "-o", tmp_path / "a.wav", "--steps", "2",
                "--seconds", "0.3", "--device", "cpu") == 0
    assert sf.read(tmp_path / "a.wav")[0].shape == (4800,)
    capsys.readouterr()
    assert _train(world["data"], tmp_path / "b", world["clip"], "--size", "depth=3") == 2
    assert "unknown size" in capsys.readouterr().err
    assert _train(world["data"], tmp_path / "b", world["clip"], "--size", "mel.window_frames=15") == 2
    assert "multiples of 2" in capsys.readouterr().err


# -- generation: the three query modes through the command line ----------------------------------------------
@pytest.mark.parametrize("mode", ["image", "prior", "zero-shot"])
def test_generate_writes_audio_of_the_asked_length_in_every_mode(world, trained, tmp_path, mode, capsys):
    query = {"image": ["--image", world["queries"][0][0]], "prior": ["--text", "a high whistle"],
             "zero-shot": ["--text", "a high whistle", "--no-prior"]}[mode]

    def generate(out):
        return _cli("generate", "--model", trained, *query, "-o", out, "--seconds", "0.6", "--steps", "8", "--seed",
                    "3", "--device", "cpu")

    assert generate(tmp_path / "x.wav") == 0
    said = {"image": "image", "prior": "text via the prior", "zero-shot": "text zero-shot"}[mode]
    assert f"from the {said} query" in capsys.readouterr().out
    audio, sr = sf.read(tmp_path / "x.wav", dtype="float32")
    assert sr == 16000 and audio.shape == (round(0.6 * 16000),)
    assert np.all(np.isfinite(audio)) and np.sqrt(np.mean(audio**2)) > 1e-3
    assert generate(tmp_path / "y.wav") == 0
    assert np.array_equal(sf.read(tmp_path / "y.wav", dtype="float32")[0], audio)  # same seed, same sound


# -- the learning test ---------------------------------------------------------------------------------------
def _accuracy(ckpt, world, query: str = "prior", guidance: float = 3.0, texts: bool = True) -> tuple[float, float]:
    """(image accuracy, text accuracy) of a checkpoint, through the backend: 8 unseen pictures and the 8
    captions (two per class) rendered in one batch, each classified by the nearest mean band profile."""
    backend = create_backend("clipsonic", "sound_effect", {
        "model": str(ckpt), "root": str(world["root"]), "steps": "20", "device": "cpu", "query": query,
        "batch_size": "16", "guidance": str(guidance)})
    pictures = [(f"image: {p.relative_to(world['root'])}", c) for p, c in world["queries"]]
    captions = [(cls.captions[k], c) for k in range(2) for c, cls in enumerate(S.CLASSES)] if texts else []
    rows = pictures + captions
    events = [Event(i, "sound_effect", text, duration=1.0, seed=i) for i, (text, _) in enumerate(rows)]
    clips = backend.render_batch(events, 16000)
    cents = S.centroids(S.reference_clips(), len(S.CLASSES))
    hits = [S.classify(clip.audio[0], cents) == c for clip, (_, c) in zip(clips, rows)]
    n = len(pictures)
    return float(np.mean(hits[:n])), float(np.mean(hits[n:])) if captions else float("nan")


def test_trained_model_makes_each_class_from_unseen_pictures_and_captions_and_random_weights_do_not(
        world, trained, untrained):
    image_acc, text_acc = _accuracy(trained, world)
    random_image, random_text = _accuracy(untrained, world)
    TIMINGS.update(image=image_acc, text=text_acc, random_image=random_image, random_text=random_text)
    print(f"\nclipsonic learning test: trained image {image_acc:.2f} text-via-prior {text_acc:.2f}; "
          f"untrained image {random_image:.2f} text {random_text:.2f}; training {TIMINGS['train_wall']:.1f} s wall, "
          f"{TIMINGS['train_cpu']:.1f} s CPU")
    assert image_acc >= 0.75 and text_acc >= 0.75  # chance is 0.25
    assert random_image <= 0.5 and random_text <= 0.5


def test_strong_guidance_keeps_the_class(world, trained):
    # clipping the sampler's early clean-mel estimates to [-1, 1] once turned guided tones into noise (0.31 at
    # guidance 5 on this set); guidance only sharpens the class now
    assert _accuracy(trained, world, guidance=5.0, texts=False)[0] >= 0.75


# -- the backend ------------------------------------------------------------------------------------------
def _rel_rms(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)) / max(np.sqrt(np.mean(b**2)), 1e-12))


def test_backend_batches_like_one_by_one_and_crossfades_long_effects(world, trained):
    backend = create_backend("clipsonic", "sound_effect", {"model": str(trained), "root": str(world["root"]),
                                                           "steps": "6", "device": "cpu"})
    image = f"image: {world['queries'][2][0].relative_to(world['root'])}"
    events = [Event(0, "sound_effect", image, duration=0.4, seed=1),
              Event(1, "sound_effect", "static noise", duration=1.3, seed=2),
              Event(2, "sound_effect", "a low hum", duration=None, seed=3)]
    batch = backend.render_batch(events, 48000)
    assert [c.audio.shape for c in batch] == [(1, 19200), (1, round(1.3 * 48000)), (1, 5 * 48000)]  # default 5 s
    assert all(c.sample_rate == 48000 and np.all(np.isfinite(c.audio)) for c in batch)
    window = 15 * 256 / 16000  # tiny: 16 mel frames voice 15 hops of 256 samples
    assert batch[0].info["windows"] == 2 and batch[1].info["windows"] > 1.3 / window
    assert "crossfaded windows" in batch[1].detail and batch[0].info["query"] == "image"
    assert batch[1].info["query"] == "text via prior"
    noise = batch[1].audio[0]
    assert np.std(noise[-4800:]) > 0.3 * np.std(noise)  # the windows reach the very end: no silent tail
    alone = [backend.render(e, 48000) for e in events[:2]]
    for a, b in zip(alone, batch):
        # a batch convolves with other kernels than one row: equal up to float rounding (which the sampler and
        # Griffin-Lim's iterations magnify a little)
        assert _rel_rms(a.audio, b.audio) < 1e-2
    reseeded = backend.render(Event(0, "sound_effect", image, duration=0.4, seed=9), 48000)
    assert _rel_rms(reseeded.audio, batch[0].audio) > 0.3
    assert max(float(np.abs(c.audio).max()) for c in batch) <= 0.9 + 1e-6  # peaks held at -0.9 dBFS


def test_backend_errors_name_the_row_and_the_fix(world, trained, tmp_path):
    backend = create_backend("clipsonic", "sound_effect", {"model": str(trained), "root": str(tmp_path)})
    with pytest.raises(ScriptError) as err:
        backend.render(Event(7, "sound_effect", "image: pictures/harbour.jpg", duration=1.0), 48000)
    msg = str(err.value)
    assert "row 7, content" in msg and "harbour.jpg" in msg and "clipsonic.root" in msg
    with pytest.raises(UserError, match=r"--set clipsonic.model=CKPT"):
        create_backend("clipsonic", "sound_effect").render(Event(0, "sound_effect", "rain", duration=1.0), 48000)


# -- errors at the command line -----------------------------------------------------------------------------
def test_user_errors_exit_2_with_the_fix(world, trained, tmp_path, capsys):
    def err(code: int) -> str:
        assert code == 2
        return capsys.readouterr().err

    # no CLIP folder
    msg = err(_train(world["data"], tmp_path / "a", tmp_path / "no-clip"))
    assert "CLIP folder" in msg and "does not exist" in msg and "--clip-model" in msg
    # a data folder without pairs (a picture whose sound has another name)
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    shutil.copy(world["data"] / "pairs" / "low_0.png", lonely / "dog.png")
    shutil.copy(world["data"] / "pairs" / "low_0.wav", lonely / "cat.wav")
    msg = err(_train(lonely, tmp_path / "b", world["clip"]))
    assert "no videos and no image+audio pairs" in msg and "x.png + x.wav" in msg
    # a video without audio
    silent = tmp_path / "silent"
    shutil.copytree(world["data"] / "pairs", silent)
    rng = np.random.default_rng(0)
    S.write_video(silent / "mute.mp4", [S.picture(S.CLASSES[0], rng) for _ in range(4)], 8, audio=None)
    msg = err(_train(silent, tmp_path / "c", world["clip"], "--steps", "1"))
    assert "mute.mp4" in msg and "no audio track" in msg and "--skip-bad" in msg
    # ... which --skip-bad leaves out with a warning
    (silent / "captions.tsv").write_text("file\tcaption\nlow_0.png\ta low hum\nnowhere.mp4\train\n")
    assert _train(silent, tmp_path / "c", world["clip"], "--steps", "0", "--skip-bad") == 0
    msg = capsys.readouterr().err
    assert "skipped" in msg and "mute.mp4" in msg
    assert "1 line(s) name files that are not in" in msg and "line 3 'nowhere.mp4'" in msg  # a video not downloaded
    assert json.loads((tmp_path / "c" / "clipsonic.json").read_text())["captions"] == 1
    # a caption line without its tab
    (silent / "captions.tsv").write_text("low_0.png a low hum\n")
    msg = err(_train(silent, tmp_path / "d", world["clip"], "--skip-bad"))
    assert "captions.tsv, line 1" in msg and "one tab" in msg
    # a checkpoint from another version
    other = tmp_path / "other"
    other.mkdir()
    meta = json.loads((trained / "clipsonic.json").read_text())
    (other / "clipsonic.json").write_text(json.dumps({**meta, "version": 99, "written_by": "storyaudio 9.0"}))
    msg = err(_cli("generate", "--model", other, "--text", "rain", "-o", tmp_path / "x.wav"))
    assert "format version 99" in msg and "upgrade storyaudio" in msg
    # a checkpoint whose CLIP has moved: the error says how to point at it, and pointing at it works
    moved = tmp_path / "moved"
    shutil.copytree(trained, moved, ignore=shutil.ignore_patterns("training", "features"))
    (moved / "clipsonic.json").write_text(json.dumps({**meta, "clip_model": str(tmp_path / "gone")}))
    msg = err(_cli("generate", "--model", moved, "--text", "rain", "-o", tmp_path / "x.wav", "--device", "cpu"))
    assert "gone" in msg and "--clip-model DIR" in msg
    assert _cli("generate", "--model", moved, "--text", "rain", "-o", tmp_path / "m.wav", "--device", "cpu",
                "--steps", "2", "--clip-model", world["clip"]) == 0
    # a folder that is no checkpoint, and a query that is not one
    msg = err(_cli("generate", "--model", tmp_path, "--text", "rain", "-o", tmp_path / "x.wav"))
    assert "not a CLIPSonic checkpoint" in msg and "clipsonic train" in msg
    assert "exactly one query" in err(_cli("generate", "--model", trained, "-o", tmp_path / "x.wav"))
    assert not (tmp_path / "x.wav").exists()


# -- the 8-minute check on data sets nothing was tuned on ----------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("classes,seed", [("UNTUNED_CLASSES", 23), ("FRESH_CLASSES", 41)])
def test_an_untuned_learning_set_is_learned_within_eight_minutes(tmp_path, classes, seed):
    """Another palette, other pitches, other captions and seeds; at most 8 minutes of training on the CPU."""
    classes = getattr(S, classes)
    S.build_tiny_clip(tmp_path / "clip", seed=seed + 1)
    S.write_learning_set(tmp_path / "data", classes, seed=seed)
    queries = S.write_queries(tmp_path / "queries", classes, per_class=3, seed=seed + 2)
    t0 = time.perf_counter()
    assert _cli("train", tmp_path / "data", "-o", tmp_path / "ckpt", "--clip-model", tmp_path / "clip", "--preset",
                "tiny", "--steps", "600", "--max-minutes", "8", "--device", "cpu", "--threads", "1", "-q") == 0
    seconds = time.perf_counter() - t0
    backend = create_backend("clipsonic", "sound_effect", {"model": str(tmp_path / "ckpt"), "root": str(tmp_path),
                                                           "steps": "20", "device": "cpu", "batch_size": "24"})
    rows = [(f"image: {p.relative_to(tmp_path)}", c) for p, c in queries]
    rows += [(cls.captions[k], c) for k in range(2) for c, cls in enumerate(classes)]
    clips = backend.render_batch([Event(i, "sound_effect", t, duration=1.0, seed=i) for i, (t, _) in enumerate(rows)],
                                 16000)
    cents = S.centroids(S.reference_clips(classes), len(classes))
    hits = [S.classify(c.audio[0], cents) == k for c, (_, k) in zip(clips, rows)]
    image, text = float(np.mean(hits[: len(queries)])), float(np.mean(hits[len(queries):]))
    steps = json.loads((tmp_path / "ckpt" / "clipsonic.json").read_text())["steps"]
    print(f"\n{len(classes)} classes: image {image:.2f}, text via prior {text:.2f} after {steps} steps, "
          f"{seconds:.0f} s")
    assert image >= 0.75 and text >= 0.75


# -- the HiFi-GAN vocoder ----------------------------------------------------------------------------------
@pytest.mark.slow  # ~4 s of vocoder fine-tuning; train -> generate in every query mode stays in `make test`
def test_a_given_hifigan_is_fine_tuned_stored_and_voices_the_mels(world, trained, tmp_path, capsys):
    from safetensors.numpy import load_file

    hifigan = S.build_tiny_hifigan(tmp_path / "hifigan")
    ckpt = tmp_path / "voiced"
    assert _train(world["data"], ckpt, world["clip"], "--steps", "0", "--features", world["features"], "--vocoder",
                  hifigan, "--vocoder-steps", "20") == 0
    assert json.loads((ckpt / "clipsonic.json").read_text())["vocoder"] == "hifigan"
    lines = [json.loads(x) for x in (ckpt / "metrics.jsonl").read_text().splitlines()]
    assert [x["vocoder_step"] for x in lines] == [10, 20]
    assert lines[1]["vocoder_mel_loss"] < lines[0]["vocoder_mel_loss"]  # HiFi-GAN training lowers the mel error
    given, tuned = load_file(hifigan / "model.safetensors"), load_file(ckpt / "vocoder" / "model.safetensors")
    assert given.keys() == tuned.keys() and any(not np.array_equal(given[k], tuned[k]) for k in given)
    for vocoder in ("auto", "griffin-lim"):
        out = tmp_path / f"{vocoder}.wav"
        assert _cli("generate", "--model", ckpt, "--text", "a low hum", "-o", out, "--seconds", "0.5", "--steps", "4",
                    "--device", "cpu", "--vocoder", vocoder) == 0
        audio, sr = sf.read(out, dtype="float32")
        assert sr == 16000 and audio.shape == (8000,) and np.all(np.isfinite(audio)) and np.abs(audio).max() > 0
    assert not np.array_equal(sf.read(tmp_path / "auto.wav")[0], sf.read(tmp_path / "griffin-lim.wav")[0])
    # a HiFi-GAN for other mels is refused with what would fit
    wrong = S.build_tiny_hifigan(tmp_path / "wrong", n_mels=80)
    capsys.readouterr()
    assert _train(world["data"], tmp_path / "w", world["clip"], "--steps", "0", "--features", world["features"],
                  "--vocoder", wrong) == 2
    assert "voices 80 mels" in capsys.readouterr().err
    # and a checkpoint without one says so when asked for it
    assert _cli("generate", "--model", trained, "--text", "a low hum", "-o", tmp_path / "x.wav", "--vocoder",
                "hifigan", "--device", "cpu") == 2
    assert "no HiFi-GAN vocoder" in capsys.readouterr().err


def test_image_rows_in_a_render_are_found_in_the_script_folder_and_cached_on_their_contents(world, trained,
                                                                                             tmp_path):
    from storyaudio.pipeline import RenderConfig, check, render

    show = tmp_path / "show"
    (show / "pictures").mkdir(parents=True)
    (path_a, _), (path_b, _) = world["queries"][0], world["queries"][-1]
    shutil.copy(path_a, show / "pictures" / "harbour.png")
    script = show / "show.tsv"
    script.write_text("Audio Type\tLayout\tID\tCharacter\tVolume\tAction\tContent Description\tDuration\n"
                      "Sound effect\tForeground\tN/A\tN/A\t-20\tN/A\timage: pictures/harbour.png\t0.5\n")
    config = RenderConfig(use={"sound_effect": "clipsonic"}, options={"clipsonic": {"model": str(trained)}},
                          stems=False, picture=False)
    first = render(script, tmp_path / "out", config)  # run from elsewhere: the script's folder is what counts
    assert first.rendered_rows == [1]
    assert render(script, tmp_path / "out", config).cached_rows == [1]
    shutil.copy(path_b, show / "pictures" / "harbour.png")  # the same name, another picture
    assert render(script, tmp_path / "out", config).rendered_rows == [1]
    (show / "pictures" / "harbour.png").unlink()
    with pytest.raises(UserError, match=r"row 1: the picture 'pictures/harbour.png' does not exist"):
        check(script, config)  # validate sees it, before any model is loaded
    script.write_text(script.read_text().replace("pictures/harbour.png", "../elsewhere.png"))
    (tmp_path / "elsewhere.png").write_bytes(path_a.read_bytes())
    with pytest.raises(UserError, match="outside the script's folder.*--allow-path"):
        check(script, config)
