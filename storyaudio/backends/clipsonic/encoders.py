"""CLIP through transformers (``CLIPModel`` + ``CLIPProcessor``) from a local folder or a hub id: unit-length
image and text embeddings, and the projected text-token states the prior attends to.

Loaded once per process and device (the model cache of :mod:`storyaudio.backends._neural`).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .. import _neural as nn_
from .config import ClipSonicError

NAME = "clipsonic"


def check_clip_ref(ref: str, flag: str = "--clip-model") -> str:
    """A local CLIP folder (absolute) or a hub id; a local-looking path that is missing or holds no CLIP is an
    error that says what to pass."""
    raw = (ref or "").strip()
    what = (f"{flag} must name a CLIP model: a local folder saved with save_pretrained (config.json, the weights, "
            "the tokenizer and preprocessor files) or a hub id such as openai/clip-vit-large-patch14 (downloaded "
            "once, on a machine with network access)")
    if not raw:
        raise ClipSonicError(f"no CLIP model given. {what}.")
    path = Path(os.path.expanduser(raw))
    looks_local = raw.startswith(("/", ".", "~")) or raw.count("/") > 1 or "\\" in raw or path.exists()
    if not looks_local:
        return raw
    if not path.is_dir():
        raise ClipSonicError(f"CLIP folder '{raw}' does not exist. {what}.")
    config = path / "config.json"
    try:
        model_type = json.loads(config.read_text(encoding="utf-8")).get("model_type", "")
    except (OSError, json.JSONDecodeError):
        raise ClipSonicError(f"'{raw}' holds no CLIP model (no readable config.json). {what}.") from None
    if "clip" not in str(model_type).lower():
        raise ClipSonicError(f"'{raw}' holds a '{model_type}' model, not CLIP. {what}.")
    return str(path.resolve())


def clip_fingerprint(ref: str) -> str:
    """What identifies a CLIP for the feature cache: its reference, and for a folder its config and the size and
    time of its weight files."""
    parts = [ref]
    path = Path(ref)
    if path.is_dir():
        for f in sorted(path.iterdir()):
            if f.suffix in (".json", ".safetensors", ".bin"):
                st = f.stat()
                parts.append(f"{f.name}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def probe_image():
    """A fixed colourful picture whose embedding identifies a CLIP model."""
    from PIL import Image

    y, x = np.mgrid[0:64, 0:64]
    rgb = np.stack([x * 4, y * 4, (x + y) * 2], axis=-1).astype(np.uint8)
    return Image.fromarray(rgb, "RGB")


class ClipEncoder:
    """A loaded CLIP: ``images(pictures)`` and ``texts(strings)`` as unit-length float32 embeddings."""

    def __init__(self, ref: str, device: str = "auto", dtype: str = "auto"):
        ref = check_clip_ref(ref)
        options = nn_.NeuralOptions(model=ref, device=device, dtype=dtype)

        def build(transformers, source: nn_.ModelSource, torch_dtype):
            processor = transformers.CLIPProcessor.from_pretrained(source.ref, local_files_only=source.local_files_only)
            model = transformers.CLIPModel.from_pretrained(
                source.ref, dtype=torch_dtype, local_files_only=source.local_files_only
            )
            return processor, model

        def place(pair, dev: str):
            pair[1].to(dev).eval()
            return pair

        self.source, (self.processor, self.model), self.device, self.dtype = nn_.load_model(
            NAME, options, "CLIPModel", ("transformers",), build, place
        )
        self.ref = ref
        self.dim = int(self.model.config.projection_dim)
        self.text_length = int(self.model.config.text_config.max_position_embeddings)

    def images(self, pictures: Sequence[Any], batch: int = 32) -> np.ndarray:
        """PIL images -> (n, dim) unit-length float32 embeddings."""
        torch = nn_.import_torch(NAME)
        out = []
        for i in range(0, len(pictures), batch):
            chunk = [p.convert("RGB") for p in pictures[i : i + batch]]
            with nn_.quiet():
                pixels = self.processor(images=chunk, return_tensors="pt")["pixel_values"]
            with torch.inference_mode():
                feats = _pooled(self.model.get_image_features(pixel_values=pixels.to(self.device, self.dtype)))
            out.append(torch.nn.functional.normalize(feats.float(), dim=-1).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.dim), np.float32)

    def texts(self, strings: Sequence[str], batch: int = 64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Texts -> ((n, dim) unit-length embeddings, (n, length, dim) projected token states, (n, length) mask)."""
        torch = nn_.import_torch(NAME)
        embs, states, masks = [], [], []
        for i in range(0, len(strings), batch):
            with nn_.quiet():
                tok = self.processor(text=list(strings[i : i + batch]), padding="max_length", truncation=True,
                                     max_length=self.text_length, return_tensors="pt")
            ids, mask = tok["input_ids"].to(self.device), tok["attention_mask"].to(self.device)
            with torch.inference_mode():
                out = self.model.text_model(input_ids=ids, attention_mask=mask)
                pooled = self.model.text_projection(out.pooler_output)
                tokens = self.model.text_projection(out.last_hidden_state)
            embs.append(torch.nn.functional.normalize(pooled.float(), dim=-1).cpu().numpy())
            states.append(tokens.float().cpu().numpy())
            masks.append(mask.bool().cpu().numpy())
        if not embs:
            return (np.zeros((0, self.dim), np.float32), np.zeros((0, self.text_length, self.dim), np.float32),
                    np.zeros((0, self.text_length), bool))
        return np.concatenate(embs), np.concatenate(states), np.concatenate(masks)

    def probe(self) -> np.ndarray:
        return self.images([probe_image()])[0]


def _pooled(features: Any):
    """``get_image_features`` returns a tensor (transformers 4) or an output whose pooler_output is it (5)."""
    return features if hasattr(features, "dim") else features.pooler_output
