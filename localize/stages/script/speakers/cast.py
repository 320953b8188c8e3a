"""A series' cast: the characters met so far, kept across episodes in one JSON file.

Each character has a stable id ("C01", "C02"... in order of first appearance), a name the user
may edit (it defaults to the id), the running mean of its line embeddings, the TTS voice chosen
for it per backend, the episodes it speaks in and its line count. :meth:`CastRegistry.match`
takes one episode's speaker clusters and says which character each is: the clusters and the known
characters are paired one to one (Hungarian assignment on cosine similarity of the cluster's mean
embedding to the character's, among the pairs whose similarity reaches the threshold). A cluster
left unpaired joins the character it is most like if that still reaches the threshold (the
clusterer split one voice in two: a duplicate character would split the series' voice too), and
otherwise becomes a new character.

The file is a :class:`localize.core.artifacts.Cast` written atomically by :mod:`localize.core.jsonio`.
Nothing is written until :meth:`CastRegistry.save`.

Episodes of one series may be understood at the same time, so no episode edits the cast file while it is
understood. Each writes its own contribution instead (:func:`contribute`: its speaker clusters, an
:class:`~localize.core.artifacts.EpisodeClusters` in ``<cast>.episodes/<episode>.json`` beside the cast),
and :func:`publish_cast` merges every contribution the cast has not recorded yet into it, in episode-name
order (:func:`merge_cast`), under a lock on the file, and writes it atomically. The result depends on which
episodes contributed, not on the order or the time they finished. An episode the cast has recorded keeps its
characters (``Cast.episodes``) and is not counted twice. Voices and pitch ratios are added under the same
lock (:func:`edit_cast`), set only where the character has none, so concurrent writers never lose each
other's characters or voices.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np
from filelock import FileLock

from localize.core import jsonio
from localize.core.artifacts import Cast, Character, EpisodeClusters, PitchClass
from localize.core.errors import ConfigError, LocalizeError, UnknownNameError
from localize.core.options import RunOptions

log = logging.getLogger(__name__)

# Cosine similarity a cluster's mean embedding needs to a character's to be that character.
# Measured on real voices (bench/bench_diarization.py): one speaker's mean line embedding in two
# episodes scores 0.80-0.97; two speakers' at most 0.62, and two whole clips of different voices
# (silences included) at most 0.72.
MATCH_THRESHOLD = 0.75
_DECIMALS = 6  # embeddings are float32: more digits would only bloat the file


LEGACY_PITCH = "@pitch"  # old cast files kept a pitch ratio as voices["<backend>@pitch"]


def _migrated(character: Character) -> Character:
    """`character` with old "<backend>@pitch" voice entries moved to its typed ``pitch`` field."""
    legacy = {k: v for k, v in character.voices.items() if k.endswith(LEGACY_PITCH)}
    if not legacy:
        return character
    pitch = dict(character.pitch)
    for key, value in legacy.items():
        backend = key[: -len(LEGACY_PITCH)]
        if value and backend not in pitch:
            try:
                pitch[backend] = float(value)
            except ValueError:
                log.warning("%s: pitch %r of %s is not a number; measured again", character.id, value, backend)
    voices = {k: v for k, v in character.voices.items() if k not in legacy}
    return replace(character, voices=voices, pitch=pitch)


def _unit(v: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 0 else v


def _as_lines(embeddings: np.ndarray) -> np.ndarray:
    x = np.asarray(embeddings, dtype=np.float64)
    return x[None, :] if x.ndim == 1 else x


class CastRegistry:
    """The characters of one series, matched and updated episode by episode."""

    def __init__(self, cast: Cast, path: Path | None = None, *, threshold: float = MATCH_THRESHOLD) -> None:
        if not -1.0 <= threshold <= 1.0:
            raise ConfigError(f"the cast match threshold is a cosine similarity in [-1, 1], not {threshold}.")
        self.series = cast.series
        self.path = None if path is None else Path(path)
        self.threshold = threshold
        self._characters: dict[str, Character] = {c.id: _migrated(c) for c in cast.characters}
        self._episodes: dict[str, tuple[str, ...]] = dict(cast.episodes)

    @classmethod
    def load(cls, path: Path, series: str, *, threshold: float = MATCH_THRESHOLD) -> CastRegistry:
        """The cast saved at `path`, or an empty one for `series` when the file does not exist yet."""
        path = Path(path)
        if not path.exists():
            return cls(Cast(series=series, characters=()), path, threshold=threshold)
        cast = jsonio.load(Cast, path)
        if cast.series != series:
            raise ConfigError(
                f"{path}: this cast belongs to series {cast.series!r}, not {series!r}; "
                "give each series its own cast file."
            )
        return cls(cast, path, threshold=threshold)

    # -- reading ---------------------------------------------------------------------------------

    @property
    def characters(self) -> tuple[Character, ...]:
        return tuple(self._characters.values())

    def __len__(self) -> int:
        return len(self._characters)

    def __iter__(self) -> Iterator[Character]:
        return iter(self.characters)

    def character(self, character_id: str) -> Character:
        try:
            return self._characters[character_id]
        except KeyError:
            raise UnknownNameError("character", character_id, self._characters) from None

    def to_cast(self) -> Cast:
        return Cast(series=self.series, characters=self.characters, episodes=dict(sorted(self._episodes.items())))

    def episode_characters(self, episode: str) -> tuple[str, ...] | None:
        """The character id of each of `episode`'s speaker clusters, if the cast has recorded it."""
        return self._episodes.get(episode)

    # -- matching --------------------------------------------------------------------------------

    def similarities(self, embeddings_per_cluster: Sequence[np.ndarray]) -> np.ndarray:
        """(clusters x characters) cosine similarity of each cluster's mean to each character."""
        means = np.stack([_unit(_as_lines(e).mean(axis=0)) for e in embeddings_per_cluster])
        if not self._characters:
            return np.zeros((len(means), 0))
        known = np.array([c.embedding for c in self._characters.values()], dtype=np.float64)
        if known.shape[1] != means.shape[1]:
            raise LocalizeError(
                f"{self.path or 'the cast'}: its embeddings have {known.shape[1]} dimensions, these "
                f"{means.shape[1]}; the cast was made with another speaker model; start a new cast file."
            )
        return means @ known.T

    def match(
        self,
        embeddings_per_cluster: Sequence[np.ndarray],
        *,
        episode: str = "",
        line_counts: Sequence[int] | None = None,
        pitch_classes: Sequence[PitchClass] | None = None,
    ) -> list[str]:
        """The character id of each cluster; unknown voices become new characters.

        Each item is one cluster's line embeddings (lines x 256) or its mean (256,). line_counts:
        how many lines each cluster has (default: its embedding rows), when only some lines were
        embedded well enough to learn from. Clusters and characters are first paired one to one;
        a cluster left over that still reaches the threshold to a character (one voice the
        clusterer split in two) joins it rather than duplicating it. The characters' mean
        embedding, line count and episodes are updated; `pitch_classes` (one per cluster) sets the pitch class
        of a character that has none yet. An `episode` the cast has recorded with as
        many clusters gets its recorded characters, and nothing is updated.
        """
        if not embeddings_per_cluster:
            return []
        recorded = self._episodes.get(episode) if episode else None
        if recorded is not None and len(recorded) == len(embeddings_per_cluster):
            return list(recorded)
        counts = [len(_as_lines(e)) for e in embeddings_per_cluster] if line_counts is None else list(line_counts)
        if len(counts) != len(embeddings_per_cluster):
            raise ValueError("line_counts needs one count per cluster")
        pitches: list[PitchClass] = list(pitch_classes or ())
        pitches += [""] * (len(embeddings_per_cluster) - len(pitches))
        sims = self.similarities(embeddings_per_cluster)
        known = list(self._characters)
        ids: list[str | None] = [None] * len(embeddings_per_cluster)
        if known:
            from scipy.optimize import linear_sum_assignment

            # Pairs under the threshold weigh -1000: the assignment first makes as many pairs
            # above the threshold as it can, then the most similar of those.
            rows, cols = linear_sum_assignment(np.where(sims >= self.threshold, sims, -1000.0), maximize=True)
            for r, c in zip(rows, cols, strict=True):
                if sims[r, c] >= self.threshold:
                    ids[r] = known[c]
            for r, character_id in enumerate(ids):
                best = int(np.argmax(sims[r]))
                if character_id is None and sims[r, best] >= self.threshold:
                    ids[r] = known[best]
                    log.info("cluster %d joins %s, already matched in this episode (cosine %.3f)",
                             r, known[best], sims[r, best])
                log.debug("cluster %d: best %s, cosine %.3f", r, known[best], sims[r, best])
        out: list[str] = []
        for cluster, character_id in enumerate(ids):
            if character_id is None:
                character_id = self.add(embeddings_per_cluster[cluster], episode=episode, lines=counts[cluster],
                                        pitch_class=pitches[cluster]).id
                log.info("cluster %d is a new character %s", cluster, character_id)
            out.append(character_id)
        for character_id in dict.fromkeys(i for i in ids if i is not None):
            mine = [k for k, i in enumerate(ids) if i == character_id]
            by_lines = sorted(mine, key=lambda k: -counts[k])
            self.update(character_id, np.vstack([_as_lines(embeddings_per_cluster[k]) for k in mine]),
                        episode=episode, lines=sum(counts[k] for k in mine),
                        pitch_class=next((pitches[k] for k in by_lines if pitches[k]), ""))
        if episode:
            self._episodes[episode] = tuple(out)
        return out

    # -- editing ---------------------------------------------------------------------------------

    def _next_id(self) -> str:
        numbers = [int(c[1:]) for c in self._characters if c[:1] == "C" and c[1:].isdigit()]
        return f"C{max(numbers, default=0) + 1:02d}"

    def add(self, embeddings: np.ndarray, *, episode: str = "", name: str = "", lines: int | None = None,
            pitch_class: PitchClass = "") -> Character:
        """A new character from its line embeddings (lines x 256, or one mean vector).

        lines: how many lines it spoke (default: the embedding rows).
        """
        vectors = _as_lines(embeddings)
        character_id = self._next_id()
        if name:
            self._check_name_free(name, character_id)
        character = Character(
            id=character_id,
            name=name or character_id,
            embedding=tuple(np.round(_unit(vectors.mean(axis=0)), _DECIMALS).tolist()),
            voices={},
            episodes=(episode,) if episode else (),
            lines=len(vectors) if lines is None else lines,
            pitch_class=pitch_class,
        )
        self._characters[character_id] = character
        return character

    def update(
        self, character_id: str, embeddings: np.ndarray, *, episode: str = "", lines: int | None = None,
        pitch_class: PitchClass = "",
    ) -> Character:
        """Fold one episode's lines into a character's running mean, line count and episodes.

        lines: how many lines the character spoke in it (default: the embedding rows). The mean is
        weighted by line count: normalise(n_old * old_mean + n_new * mean(new embeddings)). An
        episode already recorded for the character is not counted twice (re-running an episode
        leaves the cast as it was).
        """
        old = self.character(character_id)
        if pitch_class and not old.pitch_class:
            old = replace(old, pitch_class=pitch_class)
            self._characters[character_id] = old
        if episode and episode in old.episodes:
            log.debug("%s already has episode %r; not counting it again", character_id, episode)
            return old
        vectors = _as_lines(embeddings)
        count = len(vectors) if lines is None else lines
        total = np.asarray(old.embedding, dtype=np.float64) * old.lines + _unit(vectors.mean(axis=0)) * count
        new = replace(
            old,
            embedding=tuple(np.round(_unit(total), _DECIMALS).tolist()),
            lines=old.lines + count,
            episodes=old.episodes + ((episode,) if episode else ()),
        )
        self._characters[character_id] = new
        return new

    def _check_name_free(self, name: str, character_id: str) -> None:
        for other in self._characters.values():
            if other.id != character_id and name in (other.name, other.id):
                raise ConfigError(f"the name {name!r} is already {other.id}'s; give each character its own name.")

    def rename(self, character_id: str, name: str) -> Character:
        """Give a character a name; it keeps it in every later match."""
        name = name.strip()
        if not name:
            raise ConfigError(f"a character name cannot be empty (renaming {character_id}).")
        self._check_name_free(name, character_id)
        new = replace(self.character(character_id), name=name)
        self._characters[character_id] = new
        return new

    def set_voice(self, character_id: str, backend: str, voice: str) -> Character:
        """Choose the voice a TTS backend speaks this character's lines in; a new voice forgets the
        backend's pitch ratio (it is measured again). An old "<backend>@pitch" key sets the pitch
        ("" forgets it)."""
        if backend.endswith(LEGACY_PITCH):
            return self.set_pitch(character_id, backend[: -len(LEGACY_PITCH)], float(voice) if voice else None)
        old = self.character(character_id)
        pitch = old.pitch if old.voices.get(backend) == voice else {k: v for k, v in old.pitch.items() if k != backend}
        new = replace(old, voices={**old.voices, backend: voice}, pitch=pitch)
        self._characters[character_id] = new
        return new

    def set_pitch(self, character_id: str, backend: str, ratio: float | None) -> Character:
        """The pitch ratio a TTS backend's voice is shifted by for this character; None forgets it."""
        old = self.character(character_id)
        pitch = {k: v for k, v in old.pitch.items() if k != backend}
        if ratio is not None:
            pitch[backend] = float(ratio)
        new = replace(old, pitch=pitch)
        self._characters[character_id] = new
        return new

    def set_reference(self, character_id: str, clip: Path | None) -> Character:
        """The recording (3-30 s) a cloning backend speaks this character like, in place of the automatic
        choice of their cleanest original speech; None goes back to the automatic choice."""
        from localize.stages.voice.references import check_reference

        old = self.character(character_id)
        new = replace(old, reference="" if clip is None else str(check_reference(clip).resolve()))
        self._characters[character_id] = new
        return new

    def save(self, path: Path | None = None) -> Path:
        """Write the cast (atomically) to `path`, or where it was loaded from."""
        target = Path(path) if path is not None else self.path
        if target is None:
            raise ValueError("this cast has no file: pass save(path)")
        return jsonio.save(self.to_cast(), target)


def open_cast(options: RunOptions, *, create: bool = False) -> CastRegistry | None:
    """The series cast of ``options.cast_file``, or None when there is none; `create`: start an empty
    cast when the file does not exist yet. Its series is ``options.series``, else the file's folder name."""
    if options.cast_file is None or (not create and not Path(options.cast_file).is_file()):
        return None
    path = Path(options.cast_file)
    return CastRegistry.load(path, options.series or path.parent.name)


def merge_cast(cast: Cast, contributions: Iterable[EpisodeClusters], *, threshold: float = MATCH_THRESHOLD) -> Cast:
    """`cast` with every contribution it has not recorded folded in, in episode-name order (never in the order
    they came): the same cast and contributions give the same result. A recorded episode is left as it is."""
    registry = CastRegistry(cast, threshold=threshold)
    for part in sorted(contributions, key=lambda c: c.episode):
        if part.centroids:
            registry.match([np.asarray(c, dtype=np.float64) for c in part.centroids], episode=part.episode,
                           line_counts=list(part.counts), pitch_classes=list(part.pitch_classes))
    return registry.to_cast()


def _series(options: RunOptions) -> str:
    return options.series or Path(options.cast_file or ".").parent.name


def contributions_dir(cast_file: Path) -> Path:
    """Where the episodes of the series cast at `cast_file` leave their contributions."""
    cast_file = Path(cast_file)
    return cast_file.with_name(f"{cast_file.stem}.episodes")


def _lock(cast_file: Path) -> FileLock:
    Path(cast_file).parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(Path(cast_file).with_name(f"{Path(cast_file).name}.lock")))


def contribute(options: RunOptions, clusters: EpisodeClusters) -> Path | None:
    """Leave one episode's speaker clusters for the series cast (its own file: no other episode writes it)."""
    if options.cast_file is None:
        return None
    path = contributions_dir(Path(options.cast_file)) / f"{clusters.episode}.json"
    if path.is_file() and jsonio.load(EpisodeClusters, path) == clusters:
        return path
    return jsonio.save(clusters, path)


def contributions(cast_file: Path) -> list[EpisodeClusters]:
    """Every episode's contribution to the cast at `cast_file`, by episode name."""
    folder = contributions_dir(cast_file)
    found = [jsonio.load(EpisodeClusters, p) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []
    return sorted(found, key=lambda c: c.episode)


@contextmanager
def edit_cast(options: RunOptions) -> Iterator[CastRegistry | None]:
    """The series cast, read and written back (atomically, when changed) under a lock on its file, so a
    concurrent writer's changes are never lost; None without a cast file."""
    if options.cast_file is None:
        yield None
        return
    path = Path(options.cast_file)
    with _lock(path):
        registry = CastRegistry.load(path, _series(options))
        before = registry.to_cast()
        yield registry
        if registry.to_cast() != before or not path.is_file():
            registry.save()


def publish_cast(options: RunOptions) -> CastRegistry | None:
    """Merge every episode's contribution into the series cast (:func:`merge_cast`) and publish it atomically,
    under the cast's lock; the merged cast, or None without a cast file."""
    if options.cast_file is None:
        return None
    path = Path(options.cast_file)
    with _lock(path):
        registry = CastRegistry.load(path, _series(options))
        before = registry.to_cast()
        merged = CastRegistry(merge_cast(before, contributions(path), threshold=registry.threshold), path,
                              threshold=registry.threshold)
        if merged.to_cast() != before or not path.is_file():
            merged.save()
    return merged
