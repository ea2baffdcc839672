"""``composer``: the default music backend. A description becomes a musical plan (style, mood, tempo, meter,
key and mode, General MIDI instruments, progressions), the plan a multitrack composition (intro, varied
sections, cadence and a final chord; stingers for short foreground cues), and the composition audio through a
General MIDI SoundFont (TinySoundFont), panned, with a little reverb. Offline and fast (tens of times real
time).

The modules, in the order the music is made:

* ``plan.py``: description -> :class:`MusicPlan` (``instruments.py``: the General MIDI vocabulary);
* ``compose.py``: plan -> :class:`Composition`, in steps: ``form.py`` (beats fitted to the duration, bars and
  sections), ``harmony.py`` (chords, scales, voicings), ``patterns/`` (what each part plays: one table per
  role, filled by decorated functions), ``cues.py`` (pickup, stinger, final chord), ``writer.py`` (beats to
  timed notes);
* ``render.py``: composition -> audio through the SoundFont, at the synth's rate and the composition's
  length (the core resamples and fits the clip to its slot).

Setup: ``pip install --no-deps tinysoundfont`` and ``apt-get install fluid-soundfont-gm`` (or any GM
``.sf2``/``.sf3`` via ``--set composer.soundfont=PATH`` or ``$STORYAUDIO_SOUNDFONT``).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..base import Backend, Clip, Event
from .plan import STYLES, MusicPlan, make_plan

STYLE_NAMES = tuple(s.name for s in STYLES)


class ComposerOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    soundfont: str | None = Field(
        None, description="General MIDI SoundFont (.sf2/.sf3); default: $STORYAUDIO_SOUNDFONT or the first "
        "installed of FluidR3_GM (apt fluid-soundfont-gm), MuseScore_General, TimGM6mb")
    tempo: float | None = Field(None, ge=40, le=220, description="tempo in beats per minute, overriding the "
                                "one read from the description")
    reverb: float = Field(0.25, ge=0, le=1, description="reverb amount: 0 dry, 1 very wet")
    style: str | None = Field(None, description="force a style instead of reading it from the description: "
                              + ", ".join(STYLE_NAMES))

    @field_validator("style")
    @classmethod
    def _known_style(cls, v: str | None) -> str | None:
        if v is not None and v not in STYLE_NAMES:
            raise ValueError(f"unknown style {v!r}; styles: {', '.join(STYLE_NAMES)}")
        return v


class ComposerBackend(Backend[ComposerOptions]):
    name = "composer"
    kinds = ("music",)
    description = ("Rule-based composer: description -> plan -> multitrack composition -> General MIDI "
                   "SoundFont rendering (offline, fast).")
    Options = ComposerOptions
    requires = ("tinysoundfont",)
    imports = ("scipy.signal",)
    install_hint = ("pip install --no-deps tinysoundfont; apt-get install fluid-soundfont-gm "
                    "(or --set composer.soundfont=PATH)")
    thread_safe = True  # concurrent renders borrow separate synths from a pool

    def plan(self, event: Event) -> MusicPlan:
        opts = self.options
        return make_plan(event.content, event.seed, event.layout, style=opts.style, tempo=opts.tempo)

    def render(self, event: Event, sample_rate: int) -> Clip:
        from .compose import compose
        from .render import find_soundfont, render_composition, synth_rate

        opts = self.options
        soundfont = find_soundfont(opts.soundfont)
        # description -> plan -> composition -> audio
        plan = self.plan(event)
        duration = event.duration if event.duration is not None else (3.0 if event.layout == "foreground"
                                                                       else 30.0)
        comp = compose(plan, duration, event.seed)
        rate = synth_rate(sample_rate)  # the core resamples a clip made at another rate
        audio = render_composition(comp, plan, rate, soundfont, opts.reverb)
        info = {"backend": "composer", "plan": plan.to_dict(), "composition": comp.info,
                "soundfont": soundfont.rsplit("/", 1)[-1]}
        return Clip(audio, rate, plan.detail(), info)


__all__ = ["ComposerBackend", "ComposerOptions"]
