"""CLIPSonic on a GPU: training steps per second, and seconds per generated clip, batched and one by one.

Everything runs through the code a user runs (``storyaudio.backends.clipsonic.train.train`` and the
``clipsonic`` backend's ``render_batch``), on a random CLIP of a real size built from its config (no download;
ViT-L/14 by default, as CLIPSonic uses, or ``--clip DIR`` for real weights) and the synthetic learning set
(coloured pictures and videos with tones and noise, ``--seconds-per-file`` long). Random weights: the figures
are speeds, not quality.

1. Training: ``--warmup`` steps (features cached, kernels tuned), then ``--resume`` to ``--warmup + --steps``;
   steps/s is measured over the second run's steps only, from its metrics.jsonl.
2. Generation with the trained checkpoint: ``--rows`` image rows of ``--seconds`` each (windows of 4.1 s with
   the base preset, crossfaded), ``--denoise-steps`` DDIM steps: one by one (one render call per row) and all in
   one batched call. Batch gain = one-by-one time / batched time. Text rows through the prior are timed too.

Run:  .venv/bin/python bench/clipsonic_gpu.py                     (CUDA; base preset; about 3-5 minutes)
      .venv/bin/python bench/clipsonic_gpu.py --tiny              (CPU, tiny sizes: proves the script, no figures)
Options: --preset base --batch-size 32 --steps 60 --warmup 20 --rows 8 --seconds 10 --denoise-steps 50
         --clip-size l14|b32 --clip DIR --device auto --workers 4
Prints a table; writes JSON to $OUT/clipsonic_gpu.json when OUT is set (and to --json PATH).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

#: CLIP sizes by name: (vision width, layers, heads, patch, image size, text width, layers, heads, projection)
CLIP_SIZES = {
    "l14": (1024, 24, 16, 14, 224, 768, 12, 12, 768),  # openai/clip-vit-large-patch14
    "b32": (768, 12, 12, 32, 224, 512, 12, 8, 512),  # openai/clip-vit-base-patch32
}


def build_clip(path: Path, size: str, device: str) -> Path:
    """A random CLIP of a real size, with the tiny set's tokenizer (77 tokens) and a 224-pixel processor."""
    import torch
    import transformers

    from storyaudio.backends.clipsonic.synthetic import tokenizer_files

    vw, vl, vh, patch, image, tw, tl, th, proj = CLIP_SIZES[size]
    vocab, merges = tokenizer_files()
    config = transformers.CLIPConfig(
        text_config=dict(vocab_size=len(vocab), hidden_size=tw, intermediate_size=4 * tw, num_hidden_layers=tl,
                         num_attention_heads=th, max_position_embeddings=77, bos_token_id=0, eos_token_id=1,
                         pad_token_id=1),
        vision_config=dict(hidden_size=vw, intermediate_size=4 * vw, num_hidden_layers=vl, num_attention_heads=vh,
                           image_size=image, patch_size=patch),
        projection_dim=proj,
    )
    with torch.device(device):
        model = transformers.CLIPModel(config)
    model.save_pretrained(path)
    processor_cls = getattr(transformers, "CLIPImageProcessorPil", None) or transformers.CLIPImageProcessor
    transformers.CLIPProcessor(
        image_processor=processor_cls(size={"shortest_edge": image}, crop_size={"height": image, "width": image}),
        tokenizer=transformers.CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=77),
    ).save_pretrained(path)
    return path


def steps_per_second(metrics: Path, after: int) -> float:
    """Steps/s between the first logged step after ``after`` and the last one (elapsed is since that run began)."""
    lines = [json.loads(x) for x in metrics.read_text().splitlines()]
    run = [x for x in lines if x["step"] > after]
    if len(run) < 2:
        return float(run[-1]["steps_per_second"]) if run else float("nan")
    return (run[-1]["step"] - run[0]["step"]) / max(1e-9, run[-1]["elapsed"] - run[0]["elapsed"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tiny", action="store_true", help="tiny sizes on the CPU (checks the script; no figures)")
    ap.add_argument("--preset", default=None, help="model preset (default base, tiny with --tiny)")
    ap.add_argument("--device", default=None, help="auto | cpu | cuda (default cuda, cpu with --tiny)")
    ap.add_argument("--batch-size", type=int, default=None, help="training batch (default: the preset's)")
    ap.add_argument("--warmup", type=int, default=None, help="steps before the timed run (default 20, 4 tiny)")
    ap.add_argument("--steps", type=int, default=None, help="timed training steps (default 60, 10 tiny)")
    ap.add_argument("--rows", type=int, default=8, help="rows generated one by one and batched")
    ap.add_argument("--seconds", type=float, default=None, help="seconds per generated row (default 10, 1 tiny)")
    ap.add_argument("--denoise-steps", type=int, default=None, help="DDIM steps (default 50, 10 tiny)")
    ap.add_argument("--clip-size", default="l14", choices=sorted(CLIP_SIZES), help="random CLIP size")
    ap.add_argument("--clip", default=None, help="a real CLIP folder instead of a random one")
    ap.add_argument("--seconds-per-file", type=float, default=None, help="length of each synthetic file (6, 1 tiny)")
    ap.add_argument("--workers", type=int, default=4, help="files decoded at once while caching features")
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args(argv)
    tiny = args.tiny
    preset = args.preset or ("tiny" if tiny else "base")
    warmup = args.warmup if args.warmup is not None else (4 if tiny else 20)
    steps = args.steps if args.steps is not None else (10 if tiny else 60)
    seconds = args.seconds or (1.0 if tiny else 10.0)
    denoise = args.denoise_steps or (10 if tiny else 50)
    per_file = args.seconds_per_file or (1.0 if tiny else 6.0)

    import torch

    from storyaudio.backends import Event, _neural as nn_, create_backend
    from storyaudio.backends.clipsonic import synthetic as S
    from storyaudio.backends.clipsonic.train import TrainOptions, train

    if tiny:
        torch.set_num_threads(1)
    device = nn_.resolve_device(args.device or ("cpu" if tiny else "cuda"), "bench")
    cuda = device.startswith("cuda")
    name = torch.cuda.get_device_name(torch.device(device)) if cuda else platform.processor() or "cpu"
    out_dir = os.environ.get("OUT")
    paths = [p for p in (args.json, out_dir and os.path.join(out_dir, "clipsonic_gpu.json")) if p]
    result: dict = {"device": name, "torch": torch.__version__, "preset": preset, "tiny": tiny}

    def save() -> None:  # after every stage, so a run cut short still leaves what it measured
        for path in paths:
            Path(path).write_text(json.dumps(result, indent=2))

    print(f"# {name}, torch {torch.__version__}, preset {preset}"
          f"{' (TINY: no real figures)' if tiny else ''}", flush=True)
    with tempfile.TemporaryDirectory(prefix="clipsonic-bench-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        clip = Path(args.clip) if args.clip else (
            S.build_tiny_clip(root / "clip") if tiny else build_clip(root / "clip", args.clip_size, device))
        S.write_learning_set(root / "data", pairs=4 if tiny else 12, videos=2 if tiny else 4, seconds=per_file)
        queries = S.write_queries(root / "queries", per_class=max(1, args.rows // 4 + 1))
        result["setup_s"] = round(time.perf_counter() - t0, 1)

        # 1. training speed
        ckpt = root / "ckpt"
        base = dict(data=root / "data", out=ckpt, clip_model=str(clip), device=device, preset=preset,
                    batch_size=args.batch_size, workers=args.workers, log_every=5, progress=False)
        t0 = time.perf_counter()
        train(TrainOptions(steps=warmup, **base), echo=lambda m: None)
        result["warmup_run_s"] = round(time.perf_counter() - t0, 1)
        t0 = time.perf_counter()
        timed = train(TrainOptions(steps=warmup + steps, resume=True, **{**base, "clip_model": None}),
                      echo=lambda m: None)
        meta = json.loads((ckpt / "clipsonic.json").read_text())
        result.update(
            train_batch=args.batch_size or meta["model"]["batch_size"], train_steps=steps,
            train_steps_per_s=round(steps_per_second(ckpt / "metrics.jsonl", warmup), 3),
            train_run_s=round(time.perf_counter() - t0, 1), train_loss=timed.last_loss,
            unet_params_m=round(sum(p.numel() for p in _unet_params(ckpt)) / 1e6, 1),
            peak_train_gib=round(torch.cuda.max_memory_allocated() / 2**30, 2) if device.startswith("cuda") else None,
        )
        print(json.dumps({k: result[k] for k in ("train_steps_per_s", "train_batch", "unet_params_m")}), flush=True)
        save()

        # 2. generation speed: one by one, then batched (image rows), and text rows through the prior
        if device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        backend = create_backend("clipsonic", "sound_effect", {
            "model": str(ckpt), "root": str(root), "steps": str(denoise), "device": device,
            "batch_size": str(max(1, min(64, args.rows * 4)))})
        rows = [Event(i, "sound_effect", f"image: {queries[i % len(queries)][0].relative_to(root)}", duration=seconds,
                      seed=i) for i in range(args.rows)]
        backend.render(rows[0], 48000)  # load and warm up
        sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
        sync()
        t0 = time.perf_counter()
        for e in rows:
            backend.render(e, 48000)
        sync()
        one_by_one = time.perf_counter() - t0
        t0 = time.perf_counter()
        clips = backend.render_batch(rows, 48000)
        sync()
        batched = time.perf_counter() - t0
        texts = [Event(i, "sound_effect", S.CLASSES[i % 4].captions[0], duration=seconds, seed=i)
                 for i in range(args.rows)]
        t0 = time.perf_counter()
        backend.render_batch(texts, 48000)
        sync()
        prior_batched = time.perf_counter() - t0
        result.update(
            rows=args.rows, seconds_per_row=seconds, windows_per_row=clips[0].info["windows"], denoise_steps=denoise,
            one_by_one_s=round(one_by_one, 3), batched_s=round(batched, 3),
            s_per_clip_one_by_one=round(one_by_one / args.rows, 3), s_per_clip_batched=round(batched / args.rows, 3),
            s_per_audio_s_batched=round(batched / (args.rows * seconds), 4),
            batch_gain=round(one_by_one / max(batched, 1e-9), 2),
            s_per_clip_text_prior_batched=round(prior_batched / args.rows, 3),
            peak_generate_gib=round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None,
        )
        save()

    cols = ["train_steps_per_s", "train_batch", "unet_params_m", "peak_train_gib", "windows_per_row",
            "s_per_clip_one_by_one", "s_per_clip_batched", "batch_gain", "s_per_clip_text_prior_batched",
            "peak_generate_gib"]
    print()
    print(" | ".join(cols))
    print(" | ".join("---" for _ in cols))
    print(" | ".join(str(result.get(c)) for c in cols))
    for path in paths:
        print(f"wrote {path}")
    return 0


def _unet_params(ckpt: Path):
    import diffusers

    return list(diffusers.UNet2DConditionModel.from_pretrained(ckpt / "unet").parameters())


if __name__ == "__main__":
    raise SystemExit(main())
