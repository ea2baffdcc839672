"""Neural backends on a GPU: seconds per second of audio, and batched against one-by-one rows.

Random weights of the real model sizes, built from configs (no download): Bark-small (suno/bark-small),
MusicGen-small (facebook/musicgen-small) and AudioLDM 2 (cvssp/audioldm2), with the sizes of their published
configs. The models are built in memory and handed to the backends through their model cache, then every
figure comes from the backends' own ``render`` / ``render_batch`` (what a user's render runs).

Random weights never emit an end-of-speech token, so Bark always makes ``--seconds`` of audio (its semantic
token budget); MusicGen and AudioLDM 2 make exactly the duration asked for.

For each backend: a warm-up call, ``--rows`` rows one by one (the first gives seconds per second of audio),
then the same rows in one ``render_batch`` call. Throughput gain = one-by-one time / batched time (goal >= 3x
at 4 rows).

Run:  .venv/bin/python bench/neural_gpu.py                 (CUDA, float16, the real sizes)
      .venv/bin/python bench/neural_gpu.py --tiny          (CPU, tiny models: proves the script, no figures)
On a lent GPU machine with a 10-minute limit per command, --seconds 5 keeps the whole run to a few minutes
(MusicGen ~250 decoding steps a row, Bark ~250 semantic tokens, AudioLDM 2 200 denoising steps).
Options: --seconds 10 --rows 4 --steps 200 --only bark,musicgen,audioldm2 --device auto --dtype auto
Prints a table; writes JSON to $OUT/neural_gpu.json when OUT is set (and to --json PATH).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

WORDS = ["rain", "thunder", "door", "dog", "bark", "wind", "piano", "calm", "dark", "drums", "hello", "world", "the",
         "a", "on", "of", "cat", "sat", "mat", "who", "is", "here", "slow", "strings", "night", "sea", "waves"]


def _t5_tokenizer(transformers):
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)] + [("▁" + w, -1.0) for w in WORDS]
    vocab += [(c, -5.0) for c in "abcdefghijklmnopqrstuvwxyz▁"]
    return transformers.T5Tokenizer(vocab=vocab, extra_ids=0, model_max_length=64)


def _params(module) -> float:
    return sum(p.numel() for p in module.parameters()) / 1e6


def _build_on(device: str, fn):
    """Build a model with its parameters created on ``device`` (fast random init on a GPU)."""
    import torch

    with torch.device(device):
        return fn()


# -- models of the real sizes (or tiny ones) --------------------------------------------------------------
def build_bark(tiny: bool, device: str, dtype):
    import transformers
    from transformers.models.bark.configuration_bark import BarkCoarseConfig, BarkFineConfig, BarkSemanticConfig

    # suno/bark-small: three GPT-2-like stages of 12 layers x 768 with 12 heads; EnCodec 24 kHz codec
    size = dict(num_layers=1, num_heads=2, hidden_size=16) if tiny else dict(num_layers=12, num_heads=12, hidden_size=768)
    size["block_size"] = 1024
    codec = (
        transformers.EncodecConfig(num_filters=4, hidden_size=16, codebook_dim=16, num_lstm_layers=1)
        if tiny else transformers.EncodecConfig()  # the defaults are facebook/encodec_24khz
    )
    config = transformers.BarkConfig(
        semantic_config=BarkSemanticConfig(input_vocab_size=129600, output_vocab_size=10048, bias=False, **size).to_dict(),
        coarse_acoustics_config=BarkCoarseConfig(input_vocab_size=12096, output_vocab_size=12096, bias=False, **size).to_dict(),
        fine_acoustics_config=BarkFineConfig(input_vocab_size=1056, output_vocab_size=1056, bias=False, **size).to_dict(),
        codec_config=codec.to_dict(),
    )
    model = _build_on(device, lambda: transformers.BarkModel(config)).to(dtype).eval()
    model.generation_config = transformers.GenerationConfig(
        semantic_config={}, coarse_acoustics_config={}, fine_acoustics_config={}, sample_rate=24000, codebook_size=1024
    )
    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", "!", "?"] + WORDS)}
    processor = transformers.BarkProcessor(tokenizer=transformers.BertTokenizer(vocab=vocab))
    return (processor, model), _params(model)


def build_musicgen(tiny: bool, device: str, dtype):
    import transformers

    if tiny:
        text = transformers.T5Config(vocab_size=64, d_model=16, d_kv=8, d_ff=32, num_layers=1, num_heads=2)
        audio = transformers.EncodecConfig(
            sampling_rate=32000, upsampling_ratios=[8, 5, 4, 4], num_filters=4, hidden_size=16, codebook_dim=16,
            codebook_size=2048, num_lstm_layers=1, target_bandwidths=[2.2], normalize=False)
        decoder = transformers.MusicgenDecoderConfig(
            vocab_size=2048, num_hidden_layers=1, hidden_size=16, ffn_dim=32, num_attention_heads=2, num_codebooks=4)
    else:
        # facebook/musicgen-small: t5-base text encoder, EnCodec 32 kHz (4 codebooks of 2048), 24 x 1024 decoder
        text = transformers.T5Config(vocab_size=32128, d_model=768, d_kv=64, d_ff=3072, num_layers=12, num_heads=12)
        audio = transformers.EncodecConfig(
            sampling_rate=32000, upsampling_ratios=[8, 5, 4, 4], num_filters=64, hidden_size=128, codebook_dim=128,
            codebook_size=2048, num_lstm_layers=2, target_bandwidths=[2.2], normalize=False, use_causal_conv=False,
            chunk_length_s=None, overlap=None, norm_type="weight_norm", pad_mode="reflect", residual_kernel_size=3,
            compress=2, num_residual_layers=1, kernel_size=7, last_kernel_size=7, dilation_growth_rate=2)
        decoder = transformers.MusicgenDecoderConfig(
            vocab_size=2048, num_hidden_layers=24, hidden_size=1024, ffn_dim=4096, num_attention_heads=16,
            num_codebooks=4, max_position_embeddings=2048)
    for k in ("pad_token_id", "bos_token_id", "decoder_start_token_id"):
        setattr(decoder, k, 2048)
    config = transformers.MusicgenConfig(text_encoder=text.to_dict(), audio_encoder=audio.to_dict(), decoder=decoder.to_dict())
    model = _build_on(device, lambda: transformers.MusicgenForConditionalGeneration(config)).to(dtype).eval()
    model.generation_config = transformers.GenerationConfig(
        do_sample=True, guidance_scale=3.0, max_length=1500, top_k=250, pad_token_id=2048, bos_token_id=2048,
        decoder_start_token_id=2048)
    fe = transformers.EncodecFeatureExtractor(feature_size=1, sampling_rate=32000, padding_value=0.0)
    processor = transformers.MusicgenProcessor(feature_extractor=fe, tokenizer=_t5_tokenizer(transformers))
    return (processor, model), _params(model)


def build_audioldm2(tiny: bool, device: str, dtype):
    import transformers
    from diffusers import (AudioLDM2Pipeline, AudioLDM2ProjectionModel, AudioLDM2UNet2DConditionModel, AutoencoderKL,
                           DDIMScheduler)

    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": 4}
    for w in WORDS:
        vocab["Ġ" + w] = len(vocab)
    for c in "abcdefghijklmnopqrstuvwxyzĠ":
        vocab.setdefault(c, len(vocab))
    if tiny:
        d_clap, d_t5, d_gpt = 16, 24, 16
        clap_cfg = transformers.ClapConfig(
            text_config=dict(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                             intermediate_size=32, max_position_embeddings=80, projection_dim=16),
            audio_config=dict(spec_size=64, num_mel_bins=64, window_size=4, depths=[1, 1], num_attention_heads=[1, 1],
                              hidden_size=16, patch_embeds_hidden_size=8, projection_dim=16, num_hidden_layers=2),
            projection_dim=16)
        t5_cfg = transformers.T5Config(vocab_size=64, d_model=24, d_kv=8, d_ff=32, num_layers=1, num_heads=2)
        gpt_cfg = transformers.GPT2Config(n_embd=16, n_layer=1, n_head=2, n_positions=64, vocab_size=8, max_new_tokens=8)
        unet_kw = dict(block_out_channels=(8, 16), layers_per_block=1, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                       up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), norm_num_groups=4, attention_head_dim=4,
                       in_channels=4, out_channels=4)
        vae_kw = dict(latent_channels=4, block_out_channels=(8, 16), layers_per_block=1, norm_num_groups=4)
        voc_kw = dict(model_in_dim=8, upsample_initial_channel=32, upsample_kernel_sizes=[10, 8, 4, 4, 4],
                      resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1]])
    else:
        # cvssp/audioldm2: CLAP (HTSAT + RoBERTa, 512-d projection), FLAN-T5-large encoder, GPT-2 (768) that
        # makes 8 "AudioMAE" vectors, a 4-level latent UNet (8 latent channels), a 3-level VAE over 64-bin
        # mels, and a HiFi-GAN vocoder at 16 kHz
        d_clap, d_t5, d_gpt = 512, 1024, 768
        clap_cfg = transformers.ClapConfig(text_config=dict(vocab_size=50265), audio_config={}, projection_dim=512)
        t5_cfg = transformers.T5Config(vocab_size=32128, d_model=1024, d_kv=64, d_ff=2816, num_layers=24,
                                       num_heads=16, feed_forward_proj="gated-gelu")
        gpt_cfg = transformers.GPT2Config(n_embd=768, n_layer=12, n_head=12, max_new_tokens=8)
        unet_kw = dict(block_out_channels=(128, 256, 384, 640), layers_per_block=2,
                       down_block_types=("DownBlock2D",) + ("CrossAttnDownBlock2D",) * 3,
                       up_block_types=("CrossAttnUpBlock2D",) * 3 + ("UpBlock2D",), norm_num_groups=32,
                       attention_head_dim=8, in_channels=8, out_channels=8)
        vae_kw = dict(latent_channels=8, block_out_channels=(128, 256, 512), layers_per_block=2, norm_num_groups=32)
        voc_kw = dict(model_in_dim=64, upsample_initial_channel=1024, upsample_kernel_sizes=[16, 16, 8, 4, 4],
                      resblock_kernel_sizes=[3, 7, 11], resblock_dilation_sizes=[[1, 3, 5]] * 3)
    n_levels = len(unet_kw["block_out_channels"])
    vae_levels = len(vae_kw["block_out_channels"])

    def make():
        return AudioLDM2Pipeline(
            vae=AutoencoderKL(in_channels=1, out_channels=1, down_block_types=("DownEncoderBlock2D",) * vae_levels,
                              up_block_types=("UpDecoderBlock2D",) * vae_levels, **vae_kw),
            text_encoder=transformers.ClapModel(clap_cfg),
            text_encoder_2=transformers.T5EncoderModel(t5_cfg),
            projection_model=AudioLDM2ProjectionModel(text_encoder_dim=d_clap, text_encoder_1_dim=d_t5,
                                                      langauge_model_dim=d_gpt),
            language_model=transformers.GPT2LMHeadModel(gpt_cfg),
            tokenizer=transformers.RobertaTokenizer(vocab=vocab, merges=[], model_max_length=64),
            tokenizer_2=_t5_tokenizer(transformers),
            feature_extractor=transformers.ClapFeatureExtractor(),
            unet=AudioLDM2UNet2DConditionModel(cross_attention_dim=((None, d_gpt, d_t5),) * n_levels, **unet_kw),
            scheduler=DDIMScheduler(beta_start=0.0015, beta_end=0.0195, beta_schedule="scaled_linear",
                                    clip_sample=False, set_alpha_to_one=False),
            vocoder=transformers.SpeechT5HifiGan(transformers.SpeechT5HifiGanConfig(
                sampling_rate=16000, upsample_rates=[5, 4, 2, 2, 2], normalize_before=False, **voc_kw)),
        )

    pipe = _build_on(device, make).to(device, dtype)
    pipe.set_progress_bar_config(disable=True)
    params = sum(_params(getattr(pipe, n)) for n in ("unet", "vae", "text_encoder", "text_encoder_2", "language_model",
                                                       "projection_model", "vocoder"))
    return pipe, params


CLASS_KEY = {"bark": "BarkModel", "musicgen": "MusicgenForConditionalGeneration", "audioldm2": "AudioLDM2Pipeline"}
BUILD = {"bark": build_bark, "musicgen": build_musicgen, "audioldm2": build_audioldm2}
KIND = {"bark": "speech", "musicgen": "music", "audioldm2": "sound_effect"}
PROMPTS = {
    "bark": ["hello world, the cat sat on the mat", "who is here on the sea", "the dog is here", "slow rain at night"],
    "musicgen": ["calm piano", "dark drums", "slow strings at night", "calm sea waves piano"],
    "audioldm2": ["rain on the door", "dog bark", "thunder", "wind and sea waves"],
}


def run_backend(name: str, args, device: str, dtype) -> dict:
    from storyaudio.backends import Event, create_backend
    from storyaudio.backends import _neural as nn_

    import torch

    t0 = time.perf_counter()
    built, params = BUILD[name](args.tiny, device, dtype)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    build_s = time.perf_counter() - t0
    ref = f"bench/{name}-random"
    nn_.cached_load((CLASS_KEY[name], ref, device, nn_.dtype_name(dtype)), lambda: built)
    opts: dict = {"model": ref, "device": device, "dtype": nn_.dtype_name(dtype), "batch_size": max(args.rows, 1)}
    seconds = args.seconds
    if name == "bark":
        opts.update(semantic_max_new_tokens=max(8, min(768, round(seconds * 49.9))), min_eos_p=None,
                    max_chunk_chars=400)
    if name == "audioldm2":
        opts.update(num_inference_steps=args.steps)
    backend = create_backend(name, KIND[name], opts)
    duration = None if name == "bark" else seconds
    events = [Event(i, KIND[name], PROMPTS[name][i % 4], duration=duration, seed=i) for i in range(args.rows)]
    sr = 48000

    def timed(fn):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t = time.perf_counter()
        out = fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        return out, time.perf_counter() - t

    # warm-up (CUDA context, kernels): a short row through the same cached model
    warm_backend = create_backend(name, KIND[name], {**opts, "semantic_max_new_tokens": 16} if name == "bark" else opts)
    warm = Event(99, KIND[name], PROMPTS[name][0], duration=None if name == "bark" else min(1.0, seconds), seed=99)
    _, warm_s = timed(lambda: warm_backend.render(warm, sr))
    singles = []
    for e in events:
        clip, s = timed(lambda e=e: backend.render(e, sr))
        singles.append((clip.seconds, s))
    clips, batch_s = timed(lambda: backend.render_batch(events, sr))
    seq_s = sum(s for _a, s in singles)
    audio_rows = [c.seconds for c in clips]
    if device.startswith("cuda"):
        mem = torch.cuda.max_memory_allocated() / 2**30
        torch.cuda.reset_peak_memory_stats()
    else:
        mem = None
    nn_.clear_cache()
    return {
        "backend": name,
        "params_m": round(params, 1),
        "build_s": round(build_s, 2),
        "warmup_s": round(warm_s, 3),
        "audio_s_per_row": round(singles[0][0], 3),
        "one_row_s": round(singles[0][1], 3),
        "s_per_audio_s": round(singles[0][1] / singles[0][0], 4),
        "rows": args.rows,
        "one_by_one_s": round(seq_s, 3),
        "batched_s": round(batch_s, 3),
        "batch_gain": round(seq_s / batch_s, 2),
        "batched_audio_s": round(sum(audio_rows), 3),
        "batched_s_per_audio_s": round(batch_s / sum(audio_rows), 4),
        "steps": args.steps if name == "audioldm2" else None,
        "peak_gib": None if mem is None else round(mem, 2),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tiny", action="store_true", help="tiny models on the CPU: prove the script, no real figures")
    ap.add_argument("--device", default=None, help="auto | cpu | cuda | cuda:N (default: cuda, or cpu with --tiny)")
    ap.add_argument("--dtype", default=None, help="auto | float32 | float16 | bfloat16 (default: auto)")
    ap.add_argument("--seconds", type=float, default=None, help="audio per row (default 10, 1 with --tiny)")
    ap.add_argument("--rows", type=int, default=4, help="rows batched against one by one")
    ap.add_argument("--steps", type=int, default=None, help="AudioLDM 2 denoising steps (default 200, 3 with --tiny)")
    ap.add_argument("--only", default="musicgen,bark,audioldm2", help="comma-separated backends")
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args(argv)
    args.seconds = args.seconds or (1.0 if args.tiny else 10.0)
    args.steps = args.steps or (3 if args.tiny else 200)

    import torch

    from storyaudio.backends import _neural as nn_

    if args.tiny:
        torch.set_num_threads(1)
    device = nn_.resolve_device(args.device or ("cpu" if args.tiny else "cuda"), "bench")
    dtype = nn_.resolve_dtype(args.dtype or "auto", device, "bench")
    name = torch.cuda.get_device_name(torch.device(device)) if device.startswith("cuda") else platform.processor() or "cpu"
    import diffusers
    import transformers

    head = {
        "device": name, "torch": torch.__version__, "transformers": transformers.__version__,
        "diffusers": diffusers.__version__, "dtype": nn_.dtype_name(dtype), "tiny": args.tiny,
        "seconds": args.seconds, "rows": args.rows,
    }
    print(f"# {name}, torch {torch.__version__}, {nn_.dtype_name(dtype)}, "
          f"{'TINY models (no real figures)' if args.tiny else 'random weights of the real sizes'}", flush=True)
    results: list[dict] = []
    out_dir = os.environ.get("OUT")
    paths = [p for p in (args.json, out_dir and os.path.join(out_dir, "neural_gpu.json")) if p]

    def save() -> None:  # after every backend, so a run cut short still leaves what it measured
        for path in paths:
            Path(path).write_text(json.dumps({**head, "results": results}, indent=2))

    for b in [x.strip() for x in args.only.split(",") if x.strip()]:
        try:
            r = run_backend(b, args, device, dtype)
        except Exception as exc:  # keep the other backends' figures
            r = {"backend": b, "error": f"{type(exc).__name__}: {exc}"[:500]}
        results.append(r)
        print(json.dumps(r), flush=True)
        save()

    cols = ["backend", "params_m", "audio_s_per_row", "one_row_s", "s_per_audio_s", "one_by_one_s", "batched_s",
            "batch_gain", "peak_gib"]
    print()
    print(" | ".join(cols))
    print(" | ".join("---" for _ in cols))
    for r in results:
        print(" | ".join(str(r.get(c, r.get("error", ""))) for c in cols))
    for path in paths:
        print(f"wrote {path}")
    return 0 if all("error" not in r for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
