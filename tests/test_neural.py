"""The neural backends (bark, musicgen, audioldm2) on tiny randomly initialised models.

No hub: each model is built from a config with locally built tokenizers, saved with ``save_pretrained`` into a
temporary directory and loaded back through the backend's own loading code (``model=<directory>``), exactly
the path a user's downloaded weights take. Random weights make noise, not speech or music, so the checks are
about the contract: shapes, sample rates, exact durations, seeds, batching, preset lookup, loading once, and
the errors a user meets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

os.environ["HF_HUB_OFFLINE"] = "1"  # before transformers is imported: never reach for the hub

import numpy as np
import pytest
import soundfile as sf
from helpers import row

torch = pytest.importorskip("torch", reason="neural backends need torch: pip install 'storyaudio[neural]'")
transformers = pytest.importorskip("transformers", reason="neural backends need transformers")
diffusers = pytest.importorskip("diffusers", reason="audioldm2 needs diffusers")

from storyaudio.backends import Event, create_backend  # noqa: E402
from storyaudio.backends import _neural as nn_  # noqa: E402
from storyaudio.backends.bark import CATALOGUE  # noqa: E402
from storyaudio.errors import BackendUnavailableError, OptionError  # noqa: E402
from storyaudio.pipeline import RenderConfig, render  # noqa: E402

SR = 44100
WORDS = ["rain", "thunder", "door", "dog", "bark", "wind", "piano", "calm", "dark", "drums", "hello", "world",
         "the", "a", "on", "of", "cat", "sat", "mat", "who", "is", "here"]
torch.set_num_threads(1)  # tiny models: one thread avoids thread-pool stalls on a busy machine


def _t5_tokenizer():
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)] + [("▁" + w, -1.0) for w in WORDS]
    vocab += [(c, -5.0) for c in "abcdefghijklmnopqrstuvwxyz▁"]
    return transformers.T5Tokenizer(vocab=vocab, extra_ids=0, model_max_length=32)


# -- tiny models ------------------------------------------------------------------------------------------
def _fill_codebooks(codec) -> None:
    """A fresh EnCodec has all-zero codebooks (real ones are learned), so every code would decode to the same
    sound and seeds could not matter: give the codebooks random vectors, as a trained codec has."""
    from transformers.models.encodec.modeling_encodec import EncodecEuclideanCodebook

    with torch.no_grad():
        for module in codec.modules():
            if isinstance(module, EncodecEuclideanCodebook):
                module.embed.normal_()
                module.embed_avg.copy_(module.embed)


def _build_bark(path):
    from transformers.models.bark.configuration_bark import BarkCoarseConfig, BarkFineConfig, BarkSemanticConfig

    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", "!", "?"] + WORDS)}
    tokenizer = transformers.BertTokenizer(vocab=vocab)
    small = dict(num_layers=1, num_heads=2, hidden_size=16, block_size=1024)
    # the real token layout (text ids offset by 10048, 10k semantic codes, 2x1024 coarse codes), tiny layers
    config = transformers.BarkConfig(
        semantic_config=BarkSemanticConfig(input_vocab_size=129600, output_vocab_size=10048, **small).to_dict(),
        coarse_acoustics_config=BarkCoarseConfig(input_vocab_size=12096, output_vocab_size=12096, **small).to_dict(),
        fine_acoustics_config=BarkFineConfig(input_vocab_size=1056, output_vocab_size=1056, **small).to_dict(),
        codec_config=transformers.EncodecConfig(
            sampling_rate=24000, upsampling_ratios=[8, 5, 4, 2], num_filters=4, hidden_size=16, codebook_dim=16,
            codebook_size=1024, num_lstm_layers=1, target_bandwidths=[1.5, 3.0, 6.0, 12.0, 24.0],
        ).to_dict(),
    )
    torch.manual_seed(0)
    model = transformers.BarkModel(config)
    _fill_codebooks(model.codec_model)
    model.generation_config = transformers.GenerationConfig(
        semantic_config={}, coarse_acoustics_config={}, fine_acoustics_config={}, sample_rate=24000, codebook_size=1024
    )
    model.save_pretrained(path)
    transformers.BarkProcessor(tokenizer=tokenizer).save_pretrained(path)
    # one preset in the hub's folder, one custom preset at the top of the model directory
    rng = np.random.default_rng(0)
    os.makedirs(path / "speaker_embeddings" / "v2", exist_ok=True)
    for f in (path / "speaker_embeddings" / "v2" / "en_speaker_0.npz", path / "my_narrator.npz"):
        np.savez(f, semantic_prompt=rng.integers(0, 10000, 40), coarse_prompt=rng.integers(0, 1024, (2, 60)),
                 fine_prompt=rng.integers(0, 1024, (8, 60)))
    # and one in the hub's own layout: speaker_embeddings_path.json naming three .npy files
    table = {"repo_or_path": str(path), "v2/en_speaker_1": {}}
    for key, arr in (("semantic_prompt", rng.integers(0, 10000, 30)), ("coarse_prompt", rng.integers(0, 1024, (2, 45))),
                     ("fine_prompt", rng.integers(0, 1024, (8, 45)))):
        rel = f"speaker_embeddings/v2/en_speaker_1_{key}.npy"
        np.save(path / rel, arr)
        table["v2/en_speaker_1"][key] = rel
    (path / "speaker_embeddings_path.json").write_text(json.dumps(table))
    return path


def _build_musicgen(path):
    config = transformers.MusicgenConfig(
        text_encoder=transformers.T5Config(vocab_size=64, d_model=16, d_kv=8, d_ff=32, num_layers=1, num_heads=2).to_dict(),
        audio_encoder=transformers.EncodecConfig(
            sampling_rate=32000, upsampling_ratios=[8, 5, 4, 4], num_filters=4, hidden_size=16, codebook_dim=16,
            codebook_size=2048, num_lstm_layers=1, target_bandwidths=[2.2], audio_channels=1, normalize=False,
        ).to_dict(),
        decoder=transformers.MusicgenDecoderConfig(
            vocab_size=2048, num_hidden_layers=1, hidden_size=16, ffn_dim=32, num_attention_heads=2, num_codebooks=4,
            pad_token_id=2048, bos_token_id=2048, decoder_start_token_id=2048,
        ).to_dict(),
    )
    torch.manual_seed(0)
    model = transformers.MusicgenForConditionalGeneration(config)
    _fill_codebooks(model.audio_encoder)
    model.generation_config = transformers.GenerationConfig(
        do_sample=True, guidance_scale=3.0, max_length=1500, top_k=250,
        pad_token_id=2048, bos_token_id=2048, decoder_start_token_id=2048,
    )
    model.save_pretrained(path)
    fe = transformers.EncodecFeatureExtractor(feature_size=1, sampling_rate=32000, padding_value=0.0)
    transformers.MusicgenProcessor(feature_extractor=fe, tokenizer=_t5_tokenizer()).save_pretrained(path)
    return path


def _build_audioldm2(path):
    from diffusers import (AudioLDM2Pipeline, AudioLDM2ProjectionModel, AudioLDM2UNet2DConditionModel, AutoencoderKL,
                           DDIMScheduler)

    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": 4}
    for w in WORDS:
        vocab["Ġ" + w] = len(vocab)
    for c in "abcdefghijklmnopqrstuvwxyzĠ":
        vocab.setdefault(c, len(vocab))
    torch.manual_seed(0)
    clap = transformers.ClapModel(transformers.ClapConfig(
        text_config=dict(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=32, max_position_embeddings=40, projection_dim=16),
        audio_config=dict(spec_size=64, num_mel_bins=64, window_size=4, depths=[1, 1], num_attention_heads=[1, 1],
                          hidden_size=16, patch_embeds_hidden_size=8, projection_dim=16, num_hidden_layers=2),
        projection_dim=16,
    ))
    pipe = AudioLDM2Pipeline(
        vae=AutoencoderKL(in_channels=1, out_channels=1, latent_channels=4, block_out_channels=(8, 16),
                          layers_per_block=1, down_block_types=("DownEncoderBlock2D",) * 2,
                          up_block_types=("UpDecoderBlock2D",) * 2, norm_num_groups=4),
        text_encoder=clap,
        text_encoder_2=transformers.T5EncoderModel(
            transformers.T5Config(vocab_size=64, d_model=24, d_kv=8, d_ff=32, num_layers=1, num_heads=2)),
        projection_model=AudioLDM2ProjectionModel(text_encoder_dim=16, text_encoder_1_dim=24, langauge_model_dim=16),
        language_model=transformers.GPT2LMHeadModel(
            transformers.GPT2Config(n_embd=16, n_layer=1, n_head=2, n_positions=64, vocab_size=8, max_new_tokens=4)),
        tokenizer=transformers.RobertaTokenizer(vocab=vocab, merges=[], model_max_length=32),
        tokenizer_2=_t5_tokenizer(),
        feature_extractor=transformers.ClapFeatureExtractor(feature_size=64, sampling_rate=48000),
        unet=AudioLDM2UNet2DConditionModel(
            sample_size=32, in_channels=4, out_channels=4, block_out_channels=(8, 16), layers_per_block=1,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            cross_attention_dim=((None, 16, 24), (None, 16, 24)), norm_num_groups=4, attention_head_dim=4),
        scheduler=DDIMScheduler(beta_start=0.0015, beta_end=0.0195, beta_schedule="scaled_linear", clip_sample=False,
                                set_alpha_to_one=False),
        vocoder=transformers.SpeechT5HifiGan(transformers.SpeechT5HifiGanConfig(
            model_in_dim=8, sampling_rate=16000, upsample_initial_channel=32, upsample_rates=[5, 4, 2, 2, 2],
            upsample_kernel_sizes=[10, 8, 4, 4, 4], resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1]],
            normalize_before=False)),
    )
    pipe.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def bark_dir(tmp_path_factory):
    return _build_bark(tmp_path_factory.mktemp("bark"))


@pytest.fixture(scope="module")
def musicgen_dir(tmp_path_factory):
    return _build_musicgen(tmp_path_factory.mktemp("musicgen"))


@pytest.fixture(scope="module")
def audioldm2_dir(tmp_path_factory):
    return _build_audioldm2(tmp_path_factory.mktemp("audioldm2"))


def _rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(np.abs(a).max(), np.abs(b).max(), 1e-30))


# -- import cost and the pure helpers ---------------------------------------------------------------------
def test_importing_the_backends_does_not_import_torch():
    code = ("import sys, storyaudio.backends.bark, storyaudio.backends.musicgen, storyaudio.backends.audioldm2; "
            "print(sorted(m for m in ('torch', 'transformers', 'diffusers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_helpers_crossfade_and_fit_length():
    a, b = np.ones((1, 100), np.float32), np.ones((1, 80), np.float32)
    j = nn_.crossfade_join(a, b, 20)
    assert j.shape == (1, 160)
    assert nn_.fit_length(j, 150, 1000).shape == (1, 150) and nn_.fit_length(j, 200, 1000).shape == (1, 200)
    assert nn_.resample(np.zeros((2, 24000)), 24000, 44100).shape == (2, 44100)
    assert nn_.window_starts(100, 40, 10) == [0, 30, 60]


# -- errors a user meets ----------------------------------------------------------------------------------
def test_uncached_hub_id_offline_says_how_to_bring_the_weights():
    backend = create_backend("musicgen", "music", {"model": "nobody-here/no-such-musicgen"})
    with pytest.raises(BackendUnavailableError) as err:
        backend.render(Event(0, "music", "calm piano", duration=1.0), SR)
    msg = str(err.value)
    assert "nobody-here/no-such-musicgen" in msg and "--set musicgen.model=" in msg and "download" in msg


def test_a_missing_package_names_the_extra_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "diffusers", None)  # makes "import diffusers" fail
    with pytest.raises(BackendUnavailableError, match=r"storyaudio\[neural\]"):
        create_backend("audioldm2", "sound_effect").render(Event(0, "sound_effect", "rain", duration=1.0), SR)


def test_missing_local_directory_and_bad_device_or_dtype(tmp_path):
    with pytest.raises(BackendUnavailableError, match="does not exist"):
        create_backend("bark", "speech", {"model": str(tmp_path / "nothing")}).render(Event(0, "speech", "hi"), SR)
    with pytest.raises(OptionError, match="float16"):
        create_backend("audioldm2", "sound_effect", {"device": "cpu", "dtype": "float16"}).render(
            Event(0, "sound_effect", "rain", duration=1.0), SR)
    with pytest.raises(OptionError):
        create_backend("musicgen", "music", {"device": "gpu"})
    if not torch.cuda.is_available():
        with pytest.raises(BackendUnavailableError, match="no CUDA"):
            create_backend("musicgen", "music", {"device": "cuda"}).render(Event(0, "music", "x", duration=1.0), SR)


# -- bark -------------------------------------------------------------------------------------------------
def test_bark_voices_catalogue_and_local_presets(bark_dir):
    backend = create_backend("bark", "speech", {"model": str(bark_dir)})
    voices = {v.name: v for v in backend.voices()}
    for i in range(10):
        assert f"v2/en_speaker_{i}" in voices
    assert voices["v2/en_speaker_9"].gender == "female" and voices["v2/en_speaker_6"].gender == "male"
    assert {v.gender for v in CATALOGUE} == {"male", "female"}
    assert "my_narrator" in voices  # a custom .npz in the model directory is offered too
    data, where = backend.load_preset("v2/en_speaker_0")
    assert where.endswith("en_speaker_0.npz") and data["fine_prompt"].shape == (8, 60)
    hub_data, hub_where = backend.load_preset("v2/en_speaker_1")  # through speaker_embeddings_path.json
    assert hub_where.endswith(":v2/en_speaker_1") and hub_data["coarse_prompt"].shape == (2, 45)
    assert backend.load_preset("v2/en_speaker_3") == (None, "not found")


def test_bark_lists_each_preset_file_once(bark_dir):
    # the model directory holds speaker_embeddings/, itself a preset directory: its files are named from there
    # (v2/en_speaker_0), never again from the model directory (speaker_embeddings/v2/en_speaker_0)
    backend = create_backend("bark", "speech", {"model": str(bark_dir)})
    files = backend._preset_files()
    assert sorted(files) == ["my_narrator", "v2/en_speaker_0"]
    assert len(set(files.values())) == len(files)
    names = [v.name for v in backend.voices()]
    assert len(names) == len(set(names))
    assert not any("speaker_embeddings" in n for n in names)
    assert [n for n in names if n.endswith("en_speaker_0")] == ["v2/en_speaker_0"]
    assert backend._preset_files() is files  # walked once per instance


def test_bark_renders_batches_and_is_seed_deterministic(bark_dir):
    opts = {"model": str(bark_dir), "semantic_max_new_tokens": "8", "max_chunk_chars": "30", "sentence_pause": "0.1"}
    backend = create_backend("bark", "speech", opts)
    with_preset = Event(0, "speech", "Hello world, the cat sat. Who is here?", voice="v2/en_speaker_0", seed=3)
    no_preset = Event(1, "speech", "The dog is here.", voice="v2/en_speaker_3", seed=4)
    timed = Event(2, "speech", "The dog is here.", voice="my_narrator", seed=4, duration=0.9)
    batch = backend.render_batch([with_preset, no_preset, timed], SR)

    assert [c.sample_rate for c in batch] == [SR] * 3
    assert all(c.audio.dtype == np.float32 and c.audio.shape[0] == 1 for c in batch)
    assert batch[0].info["chunks"] == 2 and batch[0].info["preset"].endswith("en_speaker_0.npz")
    assert "Bark voice v2/en_speaker_0" in batch[0].detail
    assert batch[1].info["preset"] is None and "without a history prompt" in batch[1].detail
    assert batch[2].audio.shape[1] == round(0.9 * SR)  # a timed row is exactly its duration
    assert batch[2].info["preset"].endswith("my_narrator.npz")
    # two chunks joined by a 0.1 s pause: longer than one chunk of the same model plus the pause
    assert batch[0].audio.shape[1] > batch[1].audio.shape[1] + int(0.1 * SR) - SR // 100
    assert np.abs(batch[0].audio).max() > 0

    again = backend.render(no_preset, SR)  # same row, same seed: identical (here, alone vs batched)
    assert again.audio.shape == batch[1].audio.shape and np.array_equal(again.audio, batch[1].audio)
    other = backend.render(Event(1, "speech", "The dog is here.", voice="v2/en_speaker_3", seed=5), SR)
    assert not np.array_equal(other.audio[:, :1000], again.audio[:, :1000])


# -- musicgen ---------------------------------------------------------------------------------------------
MUSICGEN_SR, MUSICGEN_HOP = 32000, 640  # the tiny model's rate and samples per frame (8 * 5 * 4 * 4)


def test_musicgen_durations_batching_and_seeds(musicgen_dir):
    backend = create_backend("musicgen", "music", {"model": str(musicgen_dir), "guidance_scale": "2"})
    events = [Event(0, "music", "calm piano", duration=0.3, seed=1),
              Event(1, "music", "dark drums", duration=0.35, seed=2),
              Event(2, "music", "calm piano drums", duration=0.45, seed=3)]
    batch = backend.render_batch(events, SR)
    # the model's rate, each row the whole frames its duration needs (the core resamples and fits: below)
    assert [c.audio.shape for c in batch] == [(1, -(-round(e.duration * MUSICGEN_SR) // MUSICGEN_HOP) * MUSICGEN_HOP)
                                              for e in events]
    assert all(c.sample_rate == MUSICGEN_SR and c.audio.dtype == np.float32 for c in batch)
    assert batch[0].info["windows"] == 1 and "calm piano" in batch[0].detail

    one = [backend.render(e, SR) for e in events[:2]]  # one by one: same shapes and lengths
    assert [c.audio.shape for c in one] == [c.audio.shape for c in batch[:2]]
    assert np.array_equal(backend.render(events[0], SR).audio, one[0].audio)  # same seed: identical
    reseeded = backend.render(Event(0, "music", "calm piano", duration=0.3, seed=9), SR)
    assert _rel_diff(reseeded.audio, one[0].audio) > 1e-3


@pytest.mark.parametrize("extend", ["continue", "crossfade"])
def test_musicgen_beds_longer_than_one_window(musicgen_dir, extend):
    opts = {"model": str(musicgen_dir), "window_seconds": "1", "prompt_seconds": "0.5", "extend": extend,
            "crossfade_seconds": "0.3", "guidance_scale": "1"}
    backend = create_backend("musicgen", "music", opts)
    sr = MUSICGEN_SR  # the model's own rate, which the backend returns whatever is asked
    long = backend.render(Event(0, "music", "calm piano", duration=1.7, seed=1), SR)
    assert long.sample_rate == sr and long.audio.shape[1] >= round(1.7 * sr) and long.info["windows"] >= 2
    assert long.info["extend"] == extend
    if extend == "continue":
        # the continuation keeps the first window as it was made and only appends to it
        first = backend.render(Event(0, "music", "calm piano", duration=1.0, seed=1), SR)
        cut = int(0.9 * sr)
        assert np.allclose(long.audio[:, :cut], first.audio[:, :cut], rtol=1e-4, atol=1e-6 * np.abs(first.audio).max())
        assert np.abs(long.audio[:, int(1.1 * sr):]).max() > 0


# -- audioldm2 --------------------------------------------------------------------------------------------
def test_audioldm2_batches_equal_one_by_one_and_seeds(audioldm2_dir):
    backend = create_backend("audioldm2", "sound_effect",
                             {"model": str(audioldm2_dir), "num_inference_steps": "3", "guidance_scale": "2.5"})
    events = [Event(0, "sound_effect", "rain on the door", duration=0.5, seed=1),
              Event(1, "sound_effect", "dog bark", duration=0.5, seed=2),
              Event(2, "sound_effect", "thunder", duration=0.45, seed=3)]
    batch = backend.render_batch(events, SR)
    assert [c.audio.shape for c in batch] == [(1, round(e.duration * 16000)) for e in events]  # the model's rate
    assert all(c.sample_rate == 16000 and np.abs(c.audio).max() > 0 for c in batch)
    # every row has its own generator, so a row renders alike alone and batched: the longest prompt (no
    # padding) to float precision, a shorter one up to what padding its prompt tokens changes
    alone = [backend.render(e, SR) for e in events[:2]]
    assert [a.audio.shape for a in alone] == [c.audio.shape for c in batch[:2]]
    assert _rel_diff(alone[0].audio, batch[0].audio) < 1e-4
    assert _rel_diff(alone[1].audio, batch[1].audio) < 0.25
    assert np.array_equal(backend.render(events[0], SR).audio, backend.render(events[0], SR).audio)
    reseeded = backend.render(Event(0, "sound_effect", "rain on the door", duration=0.5, seed=7), SR)
    assert _rel_diff(reseeded.audio, batch[0].audio) > 0.5


def test_audioldm2_long_effect_is_crossfaded_windows_of_exact_length(audioldm2_dir):
    backend = create_backend("audioldm2", "sound_effect",
                             {"model": str(audioldm2_dir), "num_inference_steps": "2", "window_seconds": "0.5",
                              "crossfade_seconds": "0.1", "guidance_scale": "1"})
    clip = backend.render(Event(0, "sound_effect", "wind", duration=1.3, seed=1), 48000)
    # three 0.5 s windows joined by 0.1 s crossfades, at the model's 16 kHz: at least the asked 1.3 s
    assert clip.sample_rate == 16000 and clip.audio.shape == (1, 3 * 8000 - 2 * 1600) and clip.info["windows"] == 3
    assert "3 crossfaded windows" in clip.detail


def test_the_core_gives_neural_clips_their_slots_exact_length_at_the_render_rate(musicgen_dir, audioldm2_dir,
                                                                                   tmp_path):
    script = {"title": "neural", "rows": [row("music", content="calm piano", duration=0.3),
                                          row("sound_effect", content="thunder", duration=0.45),
                                          row("music", "background", 1, None, -30, "begin", "dark drums"),
                                          row(content="hello there"),
                                          {**row("music", "background", 1, None, None, "end", None),
                                           "duration": None}]}
    cpu = {"device": "cpu", "dtype": "float32"}
    config = RenderConfig(use={"speech": "tone", "music": "musicgen", "sound_effect": "audioldm2"}, picture=False,
                          stems=False, options={"musicgen": {"model": str(musicgen_dir), "guidance_scale": "2", **cpu},
                                                "audioldm2": {"model": str(audioldm2_dir), "num_inference_steps": "2",
                                                              **cpu}})
    result = render(script, tmp_path / "out", config)
    for e in result.timeline.events:
        clip, sr = sf.read(tmp_path / "out" / result.clips[e.row].clip_file, dtype="float32", always_2d=True)
        assert sr == 48000 and clip.shape[0] == round(e.span * sr), e.row
        assert np.abs(clip).max() > 0


# -- loading once -----------------------------------------------------------------------------------------
def test_second_instance_with_same_options_reuses_the_model(musicgen_dir):
    opts = {"model": str(musicgen_dir), "device": "cpu", "dtype": "float32"}
    first, second = create_backend("musicgen", "music", opts), create_backend("musicgen", "music", opts)
    m1, m2 = first._load()[1], second._load()[1]
    assert m1 is m2
    key = ("MusicgenForConditionalGeneration", os.path.abspath(str(musicgen_dir)), "cpu", "float32")
    assert nn_.LOAD_COUNTS[key] == 1


# -- on a GPU (STORYAUDIO_GPU=1 on a CUDA machine; skipped elsewhere) ---------------------------------------
#: What the GPU tests ask for; the same tests run on the CPU with {"device": "cpu", "dtype": "float32"}.
GPU = {"device": "cuda", "dtype": "float16"}


def _weights(module) -> tuple[str, object]:
    p = next(module.parameters())
    return p.device.type, p.dtype


@pytest.mark.gpu
def test_musicgen_on_cuda_in_float16_makes_finite_audio_of_each_length(musicgen_dir):
    backend = create_backend("musicgen", "music", {"model": str(musicgen_dir), "guidance_scale": "2", **GPU})
    events = [Event(0, "music", "calm piano", duration=0.3, seed=1), Event(1, "music", "dark drums", duration=0.45, seed=2)]
    clips = backend.render_batch(events, SR)
    assert [c.audio.shape[1] >= round(e.duration * MUSICGEN_SR) for c, e in zip(clips, events)] == [True, True]
    assert all(c.sample_rate == MUSICGEN_SR and np.isfinite(c.audio).all() and np.abs(c.audio).max() > 0
               for c in clips)
    assert _weights(backend._load()[1]) == (GPU["device"], getattr(torch, GPU["dtype"]))
    assert np.array_equal(backend.render(events[0], SR).audio, backend.render(events[0], SR).audio)  # seeded


@pytest.mark.gpu
def test_audioldm2_on_cuda_in_float16_makes_finite_audio_of_each_length(audioldm2_dir):
    backend = create_backend("audioldm2", "sound_effect",
                             {"model": str(audioldm2_dir), "num_inference_steps": "3", "guidance_scale": "2.5", **GPU})
    events = [Event(0, "sound_effect", "rain on the door", duration=0.5, seed=1),
              Event(1, "sound_effect", "thunder", duration=1.3, seed=2)]
    clips = backend.render_batch(events, 48000)
    assert [c.audio.shape[1] >= round(e.duration * 16000) for c, e in zip(clips, events)] == [True, True]
    assert all(c.sample_rate == 16000 and np.isfinite(c.audio).all() and np.abs(c.audio).max() > 0 for c in clips)
    assert _weights(backend._load()[0].unet) == (GPU["device"], getattr(torch, GPU["dtype"]))


@pytest.mark.gpu
def test_bark_on_cuda_in_float16_speaks_finite_audio(bark_dir):
    backend = create_backend("bark", "speech", {"model": str(bark_dir), "semantic_max_new_tokens": "8", **GPU})
    clips = backend.render_batch([Event(0, "speech", "Hello world.", voice="v2/en_speaker_0", seed=3),
                                  Event(1, "speech", "The dog is here.", voice="my_narrator", seed=4)], SR)
    assert all(c.sample_rate == SR and c.audio.shape[1] > 0 for c in clips)
    assert all(np.isfinite(c.audio).all() and np.abs(c.audio).max() > 0 for c in clips)


@pytest.mark.gpu
def test_a_render_with_neural_music_and_effects_on_cuda(musicgen_dir, audioldm2_dir, tmp_path):
    script = {"title": "gpu", "rows": [row("music", content="calm piano", duration=0.6),
                                       row("sound_effect", content="thunder", duration=0.5),
                                       row(content="hello there")]}
    config = RenderConfig(use={"speech": "tone", "music": "musicgen", "sound_effect": "audioldm2"}, picture=False,
                          options={"musicgen": {"model": str(musicgen_dir), "guidance_scale": "2", **GPU},
                                   "audioldm2": {"model": str(audioldm2_dir), "num_inference_steps": "3", **GPU}})
    result = render(script, tmp_path / "out", config)
    mix, sr = sf.read(tmp_path / "out" / "mix.wav", dtype="float32")
    assert np.isfinite(mix).all() and mix.shape[0] == result.timeline.mix_samples
    assert [e.span for e in result.timeline.events[:2]] == [pytest.approx(0.6), pytest.approx(0.5)]
