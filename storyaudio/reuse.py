"""Re-rendering: what the last render into an output folder made, and what of it this one can keep.

An edit usually touches one row, so most of a re-render would make again what is already in the folder. A
render leaves a small record beside its files (``.storyaudio-reuse/``: which clip made each file, each track's
mix signature block by block, and the mastering's step-by-step state, :class:`storyaudio.mix.master.
MasterState`). The next render into the same folder compares:

* **clips/**: a file whose clip (its cache key), slot length and loudness target are unchanged is linked from
  the old folder instead of being measured and written again; the gain that brought a clip to its target is
  also kept in the clip cache (:meth:`storyaudio.cache.ClipCache.gain`) for renders into other folders;
* **the mix**: every block of :data:`BLOCK` samples has a signature per track (the clips playing there, their
  place, gain, pan and fades, and the ducking envelope's control points that reach it). A mixed sample
  depends on nothing else, so blocks whose signatures are unchanged hold the same samples: only the changed
  ranges are mixed again (:class:`MixSource`), and **stems/** of untouched tracks are linked, those of
  touched tracks copied with their changed blocks written anew;
* **mastering** recomputes only the limiter steps and meter blocks that the changed ranges reach, and the steps
  after them until its state is bit for bit the old one's (:mod:`storyaudio.mix.passes`); mastering gains
  sit on a 0.05 dB grid, so an edit that moves the piece's loudness a little keeps the gain, and with it every
  output sample outside the edited region. **mix.wav** is the old file with those steps written anew.

Whatever is kept is what a full render computes there, so a re-render's files are byte for byte those of a
render from scratch (``tests/test_reuse.py`` checks). A piece whose length changed (a re-spoken line of a
different length moves everything after it) is mixed and mastered whole; its clips are still kept.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from .mix.blockio import AudioBlocks, SparseStem, copy_data, data_offset
from .mix.master import MasterState
from .mix.mixer import Source, Track, ducking_envelope, mix_range
from .mix.passes import PassRecord, SourceRecord

if TYPE_CHECKING:
    from .timeline import PlacedEvent, RenderedClip, Timeline

#: Where a render keeps its record, inside the output folder.
STATE_DIR = ".storyaudio-reuse"
#: Samples per mix block whose signature is compared.
BLOCK = 1 << 16
_FORMAT = 1


def _digest(obj: Any) -> str:
    return hashlib.sha1(json.dumps(obj, sort_keys=True, separators=(",", ":"), default=repr).encode()).hexdigest()[:16]


def code_version() -> str:
    """The code that decides what reuse keeps (mixing, mastering, measuring, this module) and how clip files
    are made (the pipeline: fit, loudness, peak ceiling): a record left by other code is not trusted."""
    from .fingerprint import code_fingerprint

    return code_fingerprint(__name__) + code_fingerprint("storyaudio.pipeline")


def _stamp(path: Path) -> list[int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def link_or_copy(src: Path, dst: Path) -> None:
    """``dst`` as a hard link to ``src`` (a file no render changes in place: a new render replaces files,
    never writes into them), or a copy where links cannot be made."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


# -- the previous render ----------------------------------------------------------------------------------

@dataclass
class Previous:
    """The record the last render left in ``outdir`` (see the module docstring), checked against the files
    it describes: only files still as that render wrote them are reused."""

    outdir: Path
    data: dict[str, Any]
    master: MasterState | None = None

    def clip(self, name: str, identity: dict[str, Any]) -> tuple[Path, float] | None:
        """The old clip file ``name`` and its gain when it was made from the same clip, slot and target."""
        entry = self.data["clips"].get(name)
        path = self.outdir / "clips" / name
        if entry is None or entry["id"] != identity or entry["stamp"] != _stamp(path):
            return None
        return path, float(entry["gain"])

    def file(self, rel: str) -> Path | None:
        """An output file of the last render, if it is still the one it wrote."""
        path = self.outdir / rel
        stamp = self.data["files"].get(rel)
        return path if stamp is not None and stamp == _stamp(path) else None


def load(outdir: Path, settings: dict[str, Any]) -> Previous | None:
    """The last render's record in ``outdir`` when it was made by this code with these mixing and mastering
    ``settings``; None otherwise (a first render, other settings, other code, a damaged record)."""
    folder = Path(outdir) / STATE_DIR
    try:
        data = json.loads((folder / "state.json").read_text(encoding="utf-8"))
        if data.get("format") != _FORMAT or data.get("code") != code_version() or data.get("settings") != settings:
            return None
        previous = Previous(Path(outdir), data)
        if data.get("master"):
            with np.load(folder / "master.npz", allow_pickle=False) as arrays:
                previous.master = _unpack_master(data["master"], arrays)
        return previous
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save(staging: Path, settings: dict[str, Any], clips: dict[str, dict[str, Any]], plan: "MixPlan",
         master: MasterState | None, files: Sequence[str]) -> None:
    """Write this render's record into the staging folder (moved into the output folder with the rest)."""
    folder = staging / STATE_DIR
    folder.mkdir(exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    meta = _pack_master(master, arrays) if master is not None else None
    if arrays:
        with open(folder / "master.npz", "wb") as fh:
            np.savez(fh, **arrays)
    stamps = {}
    for rel in files:
        stamp = _stamp(staging / rel)
        if stamp is not None:
            stamps[rel] = stamp
    for entry in clips.values():
        entry["stamp"] = _stamp(staging / "clips" / entry["name"])
    data = {"format": _FORMAT, "code": code_version(), "settings": settings, "frames": plan.frames,
            "tracks": plan.names, "signatures": plan.signatures, "clips": {c["name"]: c for c in clips.values()},
            "files": stamps, "master": meta}
    (folder / "state.json").write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")


# -- the mix ----------------------------------------------------------------------------------------------

@dataclass
class MixPlan:
    """The tracks of a render as the mixer takes them, the ducking envelope, and each track's signature per
    block of :data:`BLOCK` samples (see the module docstring)."""

    frames: int
    sample_rate: int
    tracks: list[Track]
    duck: Any
    per_track: bool
    signatures: dict[str, list[str]] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.tracks]

    @classmethod
    def of(cls, timeline: "Timeline", rendered: dict[int, "RenderedClip"], identities: dict[int, dict[str, Any]],
           folder: Path, ducking: bool, duck_db: float, stems: bool,
           shape: Callable[["PlacedEvent", Source], Source] | None = None) -> "MixPlan":
        """The mix of ``timeline``; ``shape(event, source)``: the source as the script's extensions change it
        (their ``mix`` hooks)."""
        sr = timeline.sample_rate
        n = timeline.mix_samples  # the timeline and a short tail of room after its end
        tracks: dict[str, Track] = {}
        ids: dict[int, dict[str, Any]] = {}
        for ev in timeline.events:
            track = tracks.setdefault(ev.track, Track(ev.track, ducked=ev.layout == "background" and ducking))
            src = Source(start=int(round(ev.start * sr)), length=int(round(ev.span * sr)),
                         path=folder / rendered[ev.row].clip_file, pan=ev.pan, fade_in=int(ev.fade_in * sr),
                         fade_out=int(ev.fade_out * sr))
            if shape is not None:
                src = shape(ev, src)
            track.sources.append(src)
            ids[id(src)] = identities[ev.row]
        duck, control = None, None
        if ducking:
            speech = [(e.start, e.end) for e in timeline.foreground if e.audio_type == "speech"]
            duck = ducking_envelope(speech, n, sr, duck_db)
            control = duck
        plan = cls(n, sr, list(tracks.values()), duck, stems)
        plan.signatures = {t.name: plan._track_signatures(t, ids, control) for t in plan.tracks}
        return plan

    def _track_signatures(self, track: Track, ids: dict[int, dict[str, Any]], control) -> list[str]:
        count = -(-self.frames // BLOCK)
        per_block: list[list] = [[] for _ in range(count)]
        for src in track.sources:
            first, last = src.start // BLOCK, min(count - 1, max(src.start, src.end - 1) // BLOCK)
            item = [ids[id(src)], src.start, src.length, src.offset, src.gain, src.pan, src.fade_in, src.fade_out,
                    type(src).__qualname__, None if src.path is None else src.path.name,
                    None if src.audio is None else hashlib.sha1(np.ascontiguousarray(src.audio).tobytes()).hexdigest()]
            for j in range(first, last + 1):
                per_block[j].append(item)
        out = []
        for j, items in enumerate(per_block):
            key: list[Any] = [track.ducked, items]
            if track.ducked and control is not None and items:
                lo, hi = control.reach(j * BLOCK, min(self.frames, (j + 1) * BLOCK))
                key.append(hashlib.sha1(control.values[lo:hi].tobytes()).hexdigest())
            out.append(_digest(key))
        return out

    def changed(self, previous: Previous | None) -> list[tuple[int, int]] | None:
        """The sample ranges whose mix differs from the last render's (a piece whose length changed: also
        everything past the shorter end); None when everything must be mixed afresh (no record, other tracks,
        or nothing at the start left as it was)."""
        if previous is None or previous.data.get("tracks") != self.names or previous.file("mix.wav") is None:
            return None
        old, old_frames = previous.data["signatures"], previous.data["frames"]
        common = _common_blocks(self.frames, old_frames)
        ranges: list[tuple[int, int]] = []
        for j in range(-(-self.frames // BLOCK)):
            if j >= common or any(old[name][j] != sigs[j] for name, sigs in self.signatures.items()):
                a, b = j * BLOCK, min(self.frames, (j + 1) * BLOCK)
                if ranges and ranges[-1][1] == a:
                    ranges[-1] = (ranges[-1][0], b)
                else:
                    ranges.append((a, b))
        if ranges and ranges[0][0] == 0 and ranges[0][1] >= self.frames:
            return None  # nothing kept: mix it whole, as a first render does
        return ranges

    def changed_blocks(self, previous: Previous, name: str) -> list[int] | None:
        """Blocks where track ``name``'s stem differs from the last render's, every block past the shorter
        end included (None: the track is new)."""
        old = previous.data["signatures"].get(name)
        if old is None:
            return None
        common = _common_blocks(self.frames, previous.data["frames"])
        return [j for j, sig in enumerate(self.signatures[name]) if j >= common or old[j] != sig]


def _common_blocks(frames: int, old_frames: int) -> int:
    """Blocks two pieces share by place and extent: all of them at the same length, else the whole blocks
    before the shorter end."""
    return -(-frames // BLOCK) if frames == old_frames else min(frames, old_frames) // BLOCK


class MixSource(AudioBlocks):
    """The mix as a block reader that mixes on demand: the blocks it is asked for are mixed once (from the
    clip files, exactly as a full mix makes them) and kept in a sparse scratch file for the passes that read
    them again. A re-render's mastering reads only around what changed."""

    def __init__(self, plan: MixPlan, scratch: Path):
        self.plan, self.channels, self.frames, self.sample_rate = plan, 2, plan.frames, plan.sample_rate
        self.path = scratch
        self._fh = open(scratch, "wb+")
        self._fh.truncate(self.frames * 2 * 4)
        self._made: set[int] = set()

    def _ensure(self, j: int, on_track=None) -> None:
        if j in self._made:
            return
        a, b = j * BLOCK, min(self.frames, (j + 1) * BLOCK)
        block = mix_range(self.plan.tracks, a, b, self.plan.duck, per_track=self.plan.per_track, on_track=on_track)
        self._fh.seek(a * 8)
        self._fh.write(np.ascontiguousarray(block.T).tobytes())
        self._made.add(j)

    def prefill(self, blocks: Sequence[int], on_track) -> None:
        """Mix ``blocks`` now, handing each track's own samples to ``on_track(name, a, b, frames)`` (the stems'
        patches) as they are summed."""
        for j in blocks:
            self._ensure(j, on_track)

    def _read(self, lo: int, hi: int) -> np.ndarray:
        for j in range(lo // BLOCK, (hi - 1) // BLOCK + 1):
            self._ensure(j)
        self._fh.seek(lo * 8)
        data = np.frombuffer(self._fh.read((hi - lo) * 8), dtype="<f4")
        return data.reshape(hi - lo, 2).T

    def close(self) -> None:
        self._fh.close()
        self.path.unlink(missing_ok=True)


def write_stems(plan: MixPlan, previous: Previous, folder: Path, source: MixSource) -> list[str]:
    """stems/ of a re-render: a track whose every block is unchanged is linked from the last render; one with
    changed blocks is made anew at the piece's length, with its unchanged blocks copied from its old stem (its
    holes skipped: see :class:`~storyaudio.mix.blockio.SparseStem`) and its changed blocks mixed; a new track
    is mixed whole. The blocks are mixed once, all tracks together, into ``source`` too (mastering then reads
    them from there). Returns the stems written anew."""
    folder.mkdir(exist_ok=True)
    count = -(-plan.frames // BLOCK)
    patches: dict[str, tuple[SparseStem, set[int]]] = {}
    try:
        for track in plan.tracks:
            dst = folder / f"{track.name}.wav"
            old = previous.file(f"stems/{track.name}.wav")
            blocks = plan.changed_blocks(previous, track.name) if old is not None else None
            if blocks is not None and not blocks:
                link_or_copy(old, dst)
                continue
            stem = SparseStem(dst, plan.frames, plan.sample_rate)
            if blocks is not None and data_offset(old) == (stem.offset, 4):
                # the blocks both lengths share that this render did not change (every block past the shorter
                # end counts as changed): the old stem's bytes, at the same place in the same layout
                changed = set(blocks)
                kept = [j for j in range(count) if j not in changed]
                copy_data(old, dst, _byte_runs(kept, stem.offset, stem.frame_bytes, plan.frames))
            else:  # a new track (or an old stem in another layout): every block mixed below
                blocks = list(range(count))
            patches[track.name] = (stem, set(blocks))

        def put(name: str, lo: int, hi: int, frames: np.ndarray) -> None:
            patch = patches.get(name)
            if patch is not None and lo // BLOCK in patch[1]:
                patch[0].write_at(lo, frames)  # silence stays a hole (the block was not copied: reads as zeros)

        source.prefill(sorted(set().union(*(p[1] for p in patches.values()))), put)
    finally:
        for stem, _ in patches.values():
            stem.close()
    return list(patches)


def _byte_runs(blocks: Sequence[int], offset: int, frame: int, frames: int) -> list[tuple[int, int]]:
    """The byte ranges of the runs of ``blocks`` (of :data:`BLOCK` frames of ``frame`` bytes) in a WAV of
    ``frames`` frames whose samples start at byte ``offset``."""
    runs: list[tuple[int, int]] = []
    for j in blocks:
        a, b = offset + j * BLOCK * frame, offset + min(frames, (j + 1) * BLOCK) * frame
        if runs and runs[-1][1] == a:
            runs[-1] = (runs[-1][0], b)
        else:
            runs.append((a, b))
    return runs


# -- the mastering record, as arrays ----------------------------------------------------------------------

def _pack_pieces(pieces: dict[int, np.ndarray], prefix: str, arrays: dict[str, np.ndarray]) -> None:
    keys = sorted(pieces)
    arrays[f"{prefix}_keys"] = np.asarray(keys, np.int64)
    arrays[f"{prefix}_sizes"] = np.asarray([pieces[k].shape[1] for k in keys], np.int64)
    arrays[f"{prefix}_values"] = (np.concatenate([pieces[k] for k in keys], axis=1) if keys
                                  else np.zeros((0, 0)))


def _unpack_pieces(prefix: str, arrays) -> dict[int, np.ndarray]:
    keys, sizes, values = arrays[f"{prefix}_keys"], arrays[f"{prefix}_sizes"], arrays[f"{prefix}_values"]
    out, at = {}, 0
    for k, size in zip(keys.tolist(), sizes.tolist()):
        out[k] = values[:, at : at + size]
        at += size
    return out


_PASS_ARRAYS = ("limiter", "zi", "done", "tail", "energy", "growth", "limited", "tp", "peaks")


def _pack_master(state: MasterState, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    src = state.source
    for name in ("zi", "done", "peaks"):
        arrays[f"source_{name}"] = getattr(src, name)
    _pack_pieces(src.pieces, "source_pieces", arrays)
    passes = []
    for i, rec in enumerate(state.passes):
        for name in _PASS_ARRAYS:
            arrays[f"pass{i}_{name}"] = getattr(rec, name)
        _pack_pieces(rec.pieces, f"pass{i}_pieces", arrays)
        env_keys = sorted(rec.env)
        arrays[f"pass{i}_env_steps"] = np.asarray(env_keys, np.int64)
        arrays[f"pass{i}_env_first"] = np.asarray([rec.env[k][0] for k in env_keys], np.int64)
        arrays[f"pass{i}_env_sizes"] = np.asarray([rec.env[k][1].size for k in env_keys], np.int64)
        arrays[f"pass{i}_env_values"] = (np.concatenate([rec.env[k][1] for k in env_keys]) if env_keys
                                         else np.zeros(0, np.float32))
        passes.append({"key": _key_json(rec.key), "frames": rec.frames, "lufs": rec.lufs, "lra": rec.lra,
                       "true_peak": rec.true_peak, "sample_peak": rec.sample_peak})
    return {"source": {"frames": src.frames, "lufs": src.lufs, "peak": src.peak}, "passes": passes,
            "final": _key_json(state.final), "processed": state.processed}


def _key_json(key: tuple | None) -> list | None:
    # floats as their exact hex form: a pass is found again only by the very same gain and limit
    return None if key is None else [v.hex() if isinstance(v, float) else v for v in key]


def _key_back(key: list | None) -> tuple | None:
    if key is None:
        return None
    return tuple(float.fromhex(v) if isinstance(v, str) else v for v in key)


def _unpack_master(meta: dict[str, Any], arrays) -> MasterState:
    s = meta["source"]
    source = SourceRecord(s["frames"], arrays["source_zi"], arrays["source_done"],
                          _unpack_pieces("source_pieces", arrays), arrays["source_peaks"], s["lufs"], s["peak"])
    passes = []
    for i, p in enumerate(meta["passes"]):
        get = {name: arrays[f"pass{i}_{name}"] for name in _PASS_ARRAYS}
        rec = PassRecord(_key_back(p["key"]), p["frames"], get["limiter"], get["zi"], get["done"], get["tail"],
                         _unpack_pieces(f"pass{i}_pieces", arrays), get["energy"], get["growth"], get["limited"],
                         get["tp"], get["peaks"], lufs=p["lufs"], lra=p["lra"], true_peak=p["true_peak"],
                         sample_peak=p["sample_peak"])
        steps, first = arrays[f"pass{i}_env_steps"].tolist(), arrays[f"pass{i}_env_first"].tolist()
        sizes, values = arrays[f"pass{i}_env_sizes"].tolist(), arrays[f"pass{i}_env_values"]
        at = 0
        for k, f0, size in zip(steps, first, sizes):
            rec.env[k] = (f0, values[at : at + size])
            at += size
        passes.append(rec)
    return MasterState(source, passes, _key_back(meta["final"]), meta["processed"])

