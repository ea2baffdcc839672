"""``storyaudio clipsonic``: train a CLIPSonic sound-effect model from videos, and generate with it.

Commands only (parse, call the library, print); the work is in :mod:`storyaudio.backends.clipsonic`.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from .errors import OptionError, UserError

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    help="Train a text/image-queried sound-effect generator from videos (CLIPSonic), and generate with it.\n\n"
    "Example: storyaudio clipsonic train videos/ -o models/sfx --clip-model openai/clip-vit-large-patch14",
)


@app.command()
def train(
    data: Path = typer.Argument(..., help="Folder of videos and/or image+audio pairs (x.png + x.wav); optional "
                                "captions.tsv (file<TAB>caption) trains the text prior."),
    out: Path = typer.Option(..., "--out", "-o", help="Checkpoint folder to write (or continue with --resume)."),
    clip_model: Optional[str] = typer.Option(None, "--clip-model", help="CLIP: a local folder (save_pretrained "
                                             "layout) or a hub id. Required unless --resume."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Total training steps (default: the preset's)."),
    max_minutes: Optional[float] = typer.Option(None, "--max-minutes", help="Stop (and save) after this long."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Clips per step (default: the preset's)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or cuda:N."),
    resume: bool = typer.Option(False, "--resume", help="Continue the checkpoint in --out."),
    preset: str = typer.Option("base", "--preset", help="Sizes: tiny (tests), small, base (24 GB GPU), large."),
    size: List[str] = typer.Option([], "--size", help="Change one size, KEY=VALUE (e.g. --size channels=64,128,256 "
                                   "--size mel.window_frames=128). Repeatable."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Learning rate (default: the preset's)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the initial weights and the data order."),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads for torch (1 on a busy machine)."),
    workers: int = typer.Option(2, "--workers", help="Files decoded at once while caching features."),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Skip unreadable or silent videos with a warning."),
    save_every: Optional[int] = typer.Option(None, "--save-every", help="Steps between checkpoints."),
    vocoder: Optional[str] = typer.Option(None, "--vocoder", help="A HiFi-GAN (SpeechT5HifiGan folder or hub id, "
                                          "e.g. microsoft/speecht5_hifigan for the base mels) to store with the "
                                          "model."),
    vocoder_steps: int = typer.Option(0, "--vocoder-steps", help="Train a HiFi-GAN for this many steps alongside "
                                      "(starting from --vocoder's weights when given); 0: none."),
    features: Optional[Path] = typer.Option(None, "--features", help="Feature cache folder (default: OUT/features); "
                                            "share one between models trained on the same data and CLIP."),
    frame_rate: float = typer.Option(1.0, "--frame-rate", help="Video frames per second embedded by CLIP."),
    max_seconds: float = typer.Option(10.0, "--max-seconds", help="Audio used from each file, in seconds."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
):
    """Train the mel diffusion model (and, with captions.tsv, the text->image prior) into a checkpoint folder.

    Example: storyaudio clipsonic train data/ -o ckpt --clip-model ./clip-vit-base-patch32 --max-minutes 60
    """
    from .backends.clipsonic.train import TrainOptions
    from .backends.clipsonic.train import train as run

    sizes = {}
    for pair in size:
        key, eq, value = pair.partition("=")
        if not eq or not key.strip() or not value.strip():
            raise OptionError(f"--size '{pair}' is not of the form KEY=VALUE (e.g. --size channels=64,128).")
        sizes[key.strip()] = value.strip()
    if steps is not None and steps < 0:
        raise OptionError("--steps must be 0 or more.")
    if vocoder_steps < 0:
        raise OptionError("--vocoder-steps must be 0 or more.")
    if batch_size is not None and batch_size < 1:
        raise OptionError("--batch-size must be at least 1.")
    opts = TrainOptions(data=data, out=out, clip_model=clip_model, steps=steps, max_minutes=max_minutes,
                        batch_size=batch_size, device=device, resume=resume, preset=preset, sizes=sizes,
                        learning_rate=lr, seed=seed, threads=threads, workers=workers, skip_bad=skip_bad,
                        save_every=save_every, vocoder=vocoder, vocoder_steps=vocoder_steps, features=features,
                        frame_rate=frame_rate,
                        max_seconds=max_seconds,
                        progress=not quiet)
    result = run(opts, echo=lambda m: typer.echo(m, err=True))
    why = {"steps": "all steps done", "time": "--max-minutes reached", "interrupted": "interrupted",
           "nothing to do": f"it already had {result.steps} steps"}[result.stopped]
    loss = f", loss {result.last_loss:.4f}" if result.last_loss is not None else ""
    prior = f", prior {result.prior_steps} steps (loss {result.last_prior_loss:.4f})" if result.last_prior_loss else ""
    voc = f", HiFi-GAN {result.vocoder_steps} steps" if result.vocoder_steps else ""
    typer.echo(f"wrote {out}: {result.steps} steps on {result.items} files ({result.captions} captioned){loss}{prior}"
               f"{voc}; {why} after {result.seconds:.0f} s.")


@app.command()
def generate(
    model: str = typer.Option(..., "--model", help="Checkpoint folder (or hub id) from 'storyaudio clipsonic train'."),
    image: Optional[Path] = typer.Option(None, "--image", help="Query by a picture."),
    text: Optional[str] = typer.Option(None, "--text", help="Query by a text."),
    no_prior: bool = typer.Option(False, "--no-prior", help="Text zero-shot: the CLIP text embedding in the image "
                                  "embedding's place, without the prior."),
    out: Path = typer.Option(..., "--out", "-o", help="WAV file to write."),
    seconds: Optional[float] = typer.Option(None, "--seconds", help="Length (default: one model window)."),
    steps: int = typer.Option(50, "--steps", help="Denoising steps."),
    guidance: float = typer.Option(3.0, "--guidance", help="Classifier-free guidance (1 = off)."),
    seed: int = typer.Option(0, "--seed", help="Seed: the same seed makes the same sound."),
    clip_model: Optional[str] = typer.Option(None, "--clip-model", help="CLIP, when the checkpoint's has moved."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or cuda:N."),
    vocoder: str = typer.Option("auto", "--vocoder", help="auto, griffin-lim or hifigan."),
):
    """Generate a sound from a picture or a text.

    Example: storyaudio clipsonic generate --model ckpt --text "rain on a tin roof" -o rain.wav --seconds 5
    """
    if (image is None) == (text is None):
        raise UserError("give exactly one query: --image PICTURE or --text TEXT.")
    if no_prior and text is None:
        raise UserError("--no-prior is for text queries (--text); a picture needs no prior.")
    if seconds is not None and not 0 < seconds <= 600:
        raise OptionError("--seconds must be above 0 and at most 600.")
    if steps < 1 or guidance < 1:
        raise OptionError("--steps must be at least 1 and --guidance at least 1.")
    if vocoder not in ("auto", "griffin-lim", "hifigan"):
        raise OptionError("--vocoder must be auto, griffin-lim or hifigan.")
    if image is not None and not image.is_file():
        raise UserError(f"--image '{image}' does not exist. Give a picture file (.jpg, .png, ...).")
    if out.suffix.lower() != ".wav":
        raise UserError(f"--out '{out}': write a .wav file.")

    import numpy as np
    import soundfile as sf

    from .atomic import atomic_path
    from .backends.clipsonic.model import load

    m = load(model, clip=clip_model, device=device)
    if image is not None:
        from PIL import Image

        try:
            with Image.open(image) as im:
                z = m.image_condition([im.convert("RGB")])
        except OSError as exc:
            raise UserError(f"--image '{image}' cannot be read as a picture: {exc}.") from None
        query = "image"
    else:
        z = m.text_condition([text], use_prior=not no_prior, seeds=[seed])
        query = "text zero-shot" if no_prior else "text via the prior"
    length = seconds if seconds is not None else m.window_seconds
    (audio,), (windows,) = m.generate(z, [length], [seed], steps=steps, guidance=guidance, vocoder=vocoder)
    with atomic_path(out) as tmp:
        sf.write(tmp, np.clip(audio, -1.0, 1.0), m.sample_rate, format="WAV", subtype="PCM_16")
    typer.echo(f"wrote {out}: {length:.2f} s at {m.sample_rate} Hz from the {query} query ({windows} window"
               f"{'s' if windows > 1 else ''}, {steps} steps, guidance {guidance}).")
