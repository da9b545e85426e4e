"""Deterministic safety screen: does one user message describe a medical emergency happening now,
self-harm / suicidal thoughts, or neither?

It runs on every message before the ML classifier, so an NLU miss cannot suppress an escalation. It
is rule-based on purpose (same input, same answer, reviewable): the rules and the "not now" cues
(past, hypothetical, figurative, reported, habitual mentions) live in content/safety_patterns.yml;
this module only knows how to apply them. It uses token attributes that exist without spaCy's parser
(LOWER, LEMMA, TAG, POS), because Rasa's SpacyNLP runs the pipeline with the parser disabled, and
splits clauses itself.

A Screening names the rule that fired, never the message text, so it can be logged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spacy.matcher import Matcher

from secondlook.content import load_yaml
from secondlook.paths import CONTENT_DIR, PROJECT_ROOT

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc, Token

DEFAULT_PATTERNS = CONTENT_DIR / "safety_patterns.yml"
PIPELINE_PATH = PROJECT_ROOT / "build" / "spacy" / "en_secondlook"

# Rule ids end up in logs; this shape guarantees they can never carry free text.
_RULE_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_SCOPES = {"overlap", "before_match", "clause_up_to_match", "clause"}


class Risk(str, Enum):
    NONE = "none"
    MEDICAL = "medical_emergency"
    SELF_HARM = "self_harm"


# Self-harm wins when both fire: its reply also carries the emergency number.
_PRIORITY = (Risk.SELF_HARM, Risk.MEDICAL)
# How the patterns file names the risks.
_RISK_KEYS = {"medical": Risk.MEDICAL, "self_harm": Risk.SELF_HARM}


@dataclass(frozen=True)
class Screening:
    risk: Risk
    rule: str | None  # id of the pattern that fired (never the message text); None when risk is NONE
    # With risk NONE: id of a pattern that matched but was judged not happening now (past, hypothetical,
    # figurative...). The NLU uses it to overrule the classifier's emergency net on a known near miss.
    set_aside: str | None = None


NO_RISK = Screening(Risk.NONE, None)


@dataclass(frozen=True)
class _Rule:
    id: str
    risk: Risk
    ignores: frozenset[str]


@dataclass(frozen=True)
class _CueGroup:
    name: str
    scope: str
    window: int
    at_start_of: str | None  # "clause" or "sentence": the cue must open one
    present_overrides: bool
    carry_on_in_past: bool


@dataclass(frozen=True)
class _Layout:
    """Clause and sentence boundaries of one doc, as token indices."""

    clause_of: list[int]  # token index -> clause index
    clauses: list[tuple[int, int]]  # (start, end) per clause, end exclusive
    sentence_end: list[int]  # clause index -> end of its sentence
    openers: dict[str, set[int]]  # "clause" / "sentence" -> indices of the first word of each


@dataclass(frozen=True)
class _Match:
    rule: _Rule
    start: int
    end: int


class SafetyScreen:
    """Applies the rules and cues of a patterns file to spaCy docs."""

    def __init__(self, nlp: Language, patterns_path: Path = DEFAULT_PATTERNS) -> None:
        config = load_yaml(Path(patterns_path))
        self.nlp = nlp
        self.max_chars: int = int(config.get("max_chars", 2000))
        self._clause_breaks = {str(word).lower() for word in config["clause_breaks"]}
        self._sentence_breaks = {str(word).lower() for word in config["sentence_breaks"]}
        self._fillers = {str(word).lower() for word in config.get("clause_fillers", [])}
        self._present_cue: str = config["present_cue"]
        self._past_cue: str = config["past_cue"]
        self._rules: dict[str, _Rule] = {}
        self._drop_if: dict[Risk, tuple[str, ...]] = {}
        self._groups: dict[str, _CueGroup] = {}
        # validate=True: a typo in the YAML fails at start-up, not silently at run time.
        self._rule_matcher = Matcher(nlp.vocab, validate=True)
        self._cue_matcher = Matcher(nlp.vocab, validate=True)
        self._load_rules(config["risks"])
        self._load_cues(config["cues"])
        self._check_references()

    # ----------------------------------------------------------------------------- loading

    def _load_rules(self, risks: dict[str, Any]) -> None:
        for risk_name, block in risks.items():
            if risk_name not in _RISK_KEYS:
                raise ValueError(f"unknown risk {risk_name!r}; expected one of {sorted(_RISK_KEYS)}")
            risk = _RISK_KEYS[risk_name]
            self._drop_if[risk] = tuple(block.get("drop_if", []))
            for entry in block["rules"]:
                rule_id = entry["id"]
                if not _RULE_ID.match(rule_id) or rule_id in self._rules:
                    raise ValueError(f"rule id must be unique snake_case: {rule_id!r}")
                self._rules[rule_id] = _Rule(rule_id, risk, frozenset(entry.get("ignores", [])))
                self._rule_matcher.add(rule_id, entry["patterns"])

    def _load_cues(self, cues: dict[str, Any]) -> None:
        for name, block in cues.items():
            scope = block.get("scope", "clause")
            at_start_of = block.get("at_start_of")
            if scope not in _SCOPES or at_start_of not in (None, "clause", "sentence"):
                raise ValueError(f"cue group {name!r}: unknown scope {scope!r} or at_start_of {at_start_of!r}")
            self._groups[name] = _CueGroup(
                name=name,
                scope=scope,
                window=int(block.get("window", 3)),
                at_start_of=at_start_of,
                present_overrides=bool(block.get("present_overrides", True)),
                carry_on_in_past=bool(block.get("carry_on_in_past", False)),
            )
            self._cue_matcher.add(f"cue:{name}", block["patterns"])
            if block.get("except"):
                self._cue_matcher.add(f"except:{name}", block["except"])

    def _check_references(self) -> None:
        named = {name for drops in self._drop_if.values() for name in drops}
        named |= {name for rule in self._rules.values() for name in rule.ignores}
        named |= {self._present_cue, self._past_cue}
        unknown = named - set(self._groups)
        if unknown:
            raise ValueError(f"unknown cue groups referenced: {sorted(unknown)}")

    # ----------------------------------------------------------------------------- screening

    def screen(self, text: str) -> Screening:
        """Screen raw text: runs the pipeline on (the start of) it, then screen_doc."""
        if not text or not text.strip():
            return NO_RISK
        return self.screen_doc(self.nlp(text[: self.max_chars]))

    def screen_doc(self, doc: Doc) -> Screening:
        """Screen a doc made by the project pipeline (parser disabled is fine)."""
        doc = self._capped(doc)
        if not len(doc):
            return NO_RISK
        layout = self._layout(doc)
        cues = self._find_cues(doc, layout)
        matched = self._find_rules(doc)
        fired = [match for match in matched if self._counts(match, cues, layout)]
        for risk in _PRIORITY:
            for match in fired:
                if match.rule.risk is risk:
                    return Screening(risk, match.rule.id)
        return Screening(Risk.NONE, None, set_aside=matched[0].rule.id) if matched else NO_RISK

    def _capped(self, doc: Doc) -> Doc:
        # Long pastes (records, letters) only slow the screen down; a crisis is said up front.
        if len(doc.text) <= self.max_chars:
            return doc
        end = next((token.i for token in doc if token.idx >= self.max_chars), len(doc))
        return doc[:end].as_doc()

    def _layout(self, doc: Doc) -> _Layout:
        clause_of: list[int] = []
        clauses: list[tuple[int, int]] = []
        start = 0
        for token in doc:
            clause_of.append(len(clauses))
            if self._breaks_clause(token):
                clauses.append((start, token.i + 1))
                start = token.i + 1
        if start < len(doc):
            clauses.append((start, len(doc)))
        return _Layout(clause_of, clauses, self._sentence_ends(doc, clauses), self._openers(doc, clauses))

    def _breaks_clause(self, token: Token) -> bool:
        return token.lower_ in self._clause_breaks or "\n" in token.text

    def _sentence_ends(self, doc: Doc, clauses: list[tuple[int, int]]) -> list[int]:
        ends = [0] * len(clauses)
        running = len(doc)
        for index in range(len(clauses) - 1, -1, -1):
            last = doc[clauses[index][1] - 1]
            if last.lower_ in self._sentence_breaks or "\n" in last.text:
                running = clauses[index][1]
            ends[index] = running
        return ends

    def _openers(self, doc: Doc, clauses: list[tuple[int, int]]) -> dict[str, set[int]]:
        """First word of each clause, and of each clause that follows punctuation (a sentence, loosely)."""
        openers: dict[str, set[int]] = {"clause": set(), "sentence": set()}
        for start, end in clauses:
            first = next((i for i in range(start, end) if doc[i].lower_ not in self._fillers), None)
            if first is None:
                continue
            openers["clause"].add(first)
            # "he fell and is bleeding": a clause opened by a conjunction continues the sentence.
            if start == 0 or not doc[start - 1].is_alpha:
                openers["sentence"].add(first)
        return openers

    def _find_rules(self, doc: Doc) -> list[_Match]:
        strings = self.nlp.vocab.strings
        return [_Match(self._rules[strings[key]], start, end) for key, start, end in self._rule_matcher(doc)]

    def _find_cues(self, doc: Doc, layout: _Layout) -> dict[str, list[tuple[int, int]]]:
        """Cue spans per group, minus those overlapping an `except` pattern of the same group."""
        found: dict[str, list[tuple[int, int]]] = {name: [] for name in self._groups}
        excepted: dict[str, list[tuple[int, int]]] = {name: [] for name in self._groups}
        for key, start, end in self._cue_matcher(doc):
            kind, name = self.nlp.vocab.strings[key].split(":", 1)
            (found if kind == "cue" else excepted)[name].append((start, end))
        result: dict[str, list[tuple[int, int]]] = {}
        for name, spans in found.items():
            spans = [span for span in spans if not any(_overlaps(span, other) for other in excepted[name])]
            at_start_of = self._groups[name].at_start_of
            if at_start_of:
                spans = [span for span in spans if span[0] in layout.openers[at_start_of]]
            result[name] = spans
        return result

    def _counts(self, match: _Match, cues: dict[str, list[tuple[int, int]]], layout: _Layout) -> bool:
        """A rule counts unless a not-now cue of its risk applies and no 'happening now' cue beats it."""
        told_in_past = self._applies(self._past_cue, match, cues, layout, in_past=False)
        hits = [
            self._groups[name]
            for name in self._drop_if[match.rule.risk]
            if name not in match.rule.ignores and self._applies(name, match, cues, layout, told_in_past)
        ]
        if not hits:
            return True
        if any(not group.present_overrides for group in hits):
            return False
        return self._applies(self._present_cue, match, cues, layout, in_past=False)

    def _applies(
        self, name: str, match: _Match, cues: dict[str, list[tuple[int, int]]], layout: _Layout, in_past: bool
    ) -> bool:
        group = self._groups[name]
        starts = [start for start, _ in cues[name]]
        clause = layout.clause_of[match.start]
        clause_start, clause_end = layout.clauses[clause]
        if group.scope == "overlap":
            return any(_overlaps(span, (match.start, match.end)) for span in cues[name])
        if group.scope == "before_match":
            low = max(clause_start, match.start - group.window)
            return any(low <= start < match.start for start in starts)
        if group.scope == "clause_up_to_match":
            return any(clause_start <= start < match.end for start in starts)
        # A clause told in the past carries its context on to the end of the sentence.
        end = layout.sentence_end[clause] if in_past and group.carry_on_in_past else clause_end
        return any(clause_start <= start < max(end, match.end) for start in starts)


def _overlaps(first: tuple[int, int], second: tuple[int, int]) -> bool:
    return first[0] < second[1] and second[0] < first[1]


@lru_cache(maxsize=1)
def load_screen() -> SafetyScreen:
    """The screen on the project pipeline, loaded once (the spaCy load takes about half a second)."""
    import spacy

    return SafetyScreen(spacy.load(PIPELINE_PATH, disable=["parser"]))
