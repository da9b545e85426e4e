"""The line assessment: which of the fixed tags (asks_opinion, announces, honest_reason,
requests_referral, asks_why, accusatory) a line the user would say to their doctor carries.

Line analysis runs spaCy's full pipeline, dependency parser included: token `Matcher` patterns find
concepts (a second opinion, a reason, a hedge, a record), `DependencyMatcher` patterns find who does
what to whom ("you missed it" vs "I'm going to see someone else"), both as data in
content/rehearsal_patterns.yml; the Python here reads the parse for negation scope ("I'm not saying
you're wrong" is not an accusation), questions and clause subjects, and holds one rule per tag.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from spacy.tokens import Doc, Span, Token

from secondlook.rehearsal.model import TAGS, LineAssessment
from secondlook.rehearsal.parsing import normalise, parse
from secondlook.rehearsal.patterns import (
    AUX_LEMMAS,
    CERTAINTY,
    DOUBT_WORDS,
    EMOTION,
    FIRST_PERSON,
    FRAME_VERBS,
    HEDGE_MODALS,
    LEAD_INS,
    PERSON_NOUNS,
    SEEK_VERBS,
    SERIOUS_ADJ,
    STRONG_EVAL,
    TENTATIVE,
    WH_WORDS,
    WISH_LEMMAS,
    compiled,
)

# --------------------------------------------------------------------------------------------------
# Reading the parse


def _negated(token: Token) -> bool:
    return any(child.dep_ == "neg" or child.lower_ == "never" for child in token.children)


def _clause_verb(token: Token) -> Token:
    """The verb (or copula) a token belongs to: itself if it is one, else the nearest verbal head."""
    current = token
    for _ in range(8):
        if current.pos_ in ("VERB", "AUX") or current.dep_ == "ROOT" or current.head is current:
            return current
        current = current.head
    return current


def _subject(verb: Token) -> Token | None:
    """The subject of a verb, inherited through infinitives and conjuncts ("I'm going to see ...")."""
    current = verb
    for _ in range(6):
        for child in current.children:
            if child.dep_ in ("nsubj", "nsubjpass", "expl", "csubj"):
                return child
        if current.dep_ in ("xcomp", "conj", "advcl", "acomp") and current.head is not current:
            current = current.head
        else:
            return None
    return None


def _is_first_person(token: Token | None) -> bool:
    return token is not None and token.lower_ in FIRST_PERSON


def _ancestors_upto_sentence(token: Token) -> Iterator[Token]:
    yield from (ancestor for ancestor in token.ancestors if ancestor.sent == token.sent)


def _under_negated_frame(token: Token) -> bool:
    """True when a negated saying/thinking verb above the token cancels it: "I'm not saying you're wrong"."""
    return any(_negated(a) and a.lemma_.lower() in FRAME_VERBS for a in _ancestors_upto_sentence(token))


def _conditional(token: Token) -> bool:
    """True inside an "if"/"whether" clause, which states a possibility, not a decision."""
    chain = [token, *_ancestors_upto_sentence(token)]
    for node in chain[:3]:
        if any(child.dep_ == "mark" and child.lower_ in ("if", "whether") for child in node.children):
            return True
    return False


def _first_content(sent: Span) -> Token | None:
    for token in sent:
        if token.is_punct or token.lower_ in LEAD_INS or token.pos_ == "INTJ":
            continue
        return token
    return None


def _inverted(sent: Span) -> bool:
    """A yes/no question without "?": an auxiliary or modal before its subject ("could you refer me")."""
    first = _first_content(sent)
    if first is None or first.lemma_.lower() not in AUX_LEMMAS or first.tag_ not in ("MD", "VBZ", "VBP", "VBD"):
        return False
    following = [token for token in sent if first.i < token.i <= first.i + 3]
    return any(token.dep_ in ("nsubj", "nsubjpass", "expl") for token in following)


def _is_question(sent: Span) -> bool:
    if any(token.text == "?" for token in sent):
        return True
    first = _first_content(sent)
    if first is not None and first.lower_ in WH_WORDS:
        return True
    return _inverted(sent)


# --------------------------------------------------------------------------------------------------
# Per-sentence facts the tag rules share


@dataclass
class _Facts:
    sent: Span
    question: bool
    indirect: bool
    hedged: bool
    concepts: dict[str, list[Span]]
    deps: dict[str, list[tuple[Token, ...]]]

    @property
    def question_like(self) -> bool:
        return self.question or self.indirect

    def has(self, label: str) -> bool:
        return bool(self.concepts.get(label))

    def covered(self, *labels: str) -> set[int]:
        return {token.i for label in labels for span in self.concepts.get(label, []) for token in span}


def _sentence_facts(doc: Doc) -> list[_Facts]:
    patterns = compiled()
    facts = []
    for sent in doc.sents:
        span = sent.as_doc()
        concepts: dict[str, list[Span]] = {}
        for match_id, start, end in patterns.tokens(span):
            concepts.setdefault(span.vocab.strings[match_id], []).append(span[start:end])
        deps: dict[str, list[tuple[Token, ...]]] = {}
        for match_id, token_ids in patterns.deps(span):
            deps.setdefault(span.vocab.strings[match_id], []).append(tuple(span[i] for i in token_ids))
        whole = span[:]
        facts.append(
            _Facts(
                sent=whole,
                question=_is_question(whole),
                indirect=bool(concepts.get("INDIRECT")),
                hedged=_hedged(whole, concepts),
                concepts=concepts,
                deps=deps,
            )
        )
    return facts


def _hedged(sent: Span, concepts: dict[str, list[Span]]) -> bool:
    if concepts.get("HEDGE"):
        return True
    first = _first_content(sent)
    if first is not None and first.lower_ in HEDGE_MODALS and _inverted(sent):
        return True
    # "It might be worth ...", "we could ...": a softened statement.
    return any(token.tag_ == "MD" and token.lower_ in ("might", "could", "may") for token in sent)


# --------------------------------------------------------------------------------------------------
# Tag rules, one per tag. Each looks at one sentence; a line's tags are the union over its sentences.


def _accusations(facts: _Facts) -> list[Token]:
    """Anchor tokens of accusations that survive negation: "I'm not saying you're wrong" has none."""
    anchors = []
    for label in ("YOU_ERROR", "YOU_TRAIT", "YOU_WRONG", "YOU_SHOULD_HAVE", "DOUBT_YOU"):
        # The accusation itself must not be negated ("you didn't miss anything").
        anchors += [match[0] for match in facts.deps.get(label, []) if not _negated(match[0])]
    # These are accusations because of their negation ("you never listen", "I don't trust you").
    anchors += [match[0] for match in facts.deps.get("YOU_NEGLECT", [])]
    anchors += [match[0] for match in facts.deps.get("DISTRUST", []) if not _is_you(_subject(match[0]))]
    # "Did you even look?" is sarcasm in a question or with a negation, not in "you even said so".
    anchors += [m[0] for m in facts.deps.get("YOU_EVEN", []) if facts.question or _negated(m[0])]
    for verb, faith, *_ in facts.deps.get("NO_FAITH", []):
        if verb.lemma_ == "lose" or any(child.lower_ == "no" for child in faith.children) or _negated(verb):
            anchors.append(verb)
    anchors += [span.root for span in facts.concepts.get("INSULT", [])]
    return [anchor for anchor in anchors if not _under_negated_frame(anchor)]


def _is_you(token: Token | None) -> bool:
    return token is not None and token.lower_ == "you"


def _announces(facts: _Facts) -> bool:
    """A first-person, non-tentative, non-negated plan to go elsewhere stated as a fact."""
    spans = facts.concepts.get("SO", []) + facts.concepts.get("SO_WEAK", [])
    return any(_announced_span(span) for span in spans)


def _announced_span(span: Span) -> bool:
    chain = [span.root, *_ancestors_upto_sentence(span.root)]
    verbs = [token for token in chain if token.pos_ in ("VERB", "AUX")]
    # The other doctor must be what the user goes to, gets or books ("I'd sleep better with another
    # view" is a reason, not a plan).
    if not verbs or verbs[0].lemma_.lower() not in SEEK_VERBS:
        return False
    # The verb that carries the subject decides who is acting and whether it is a statement.
    for verb in verbs:
        subject = _subject(verb)
        if subject is None:
            continue
        if not _is_first_person(subject) or not _finite(verb) or _has_inverted_aux(verb):
            return False
        break
    else:
        return False
    return not any(_negated(verb) or _conditional(verb) or _tentative(verb, span) for verb in verbs)


def _finite(verb: Token) -> bool:
    if verb.tag_ in ("VBZ", "VBP", "VBD", "MD"):
        return True
    return any(child.dep_ in ("aux", "auxpass") for child in verb.children)


def _has_inverted_aux(verb: Token) -> bool:
    subject = _subject(verb)
    return any(child.dep_ == "aux" and subject is not None and child.i < subject.i for child in verb.children)


def _tentative(verb: Token, span: Span) -> bool:
    lemma = verb.lemma_.lower()
    if lemma == "ask":
        # "ask another doctor to review" is a plan; "ask about a second opinion" is a question.
        return not any(child.dep_ == "dobj" and child.i in range(span.start, span.end) for child in verb.children)
    if lemma in TENTATIVE:
        return True
    return any(child.tag_ == "MD" and child.lower_ in ("might", "may", "could") for child in verb.children)


def _asks_why(facts: _Facts) -> bool:
    for token in facts.sent:
        if token.lower_ != "why":
            continue
        if len(facts.sent) <= 3:  # "Why not?", "But why?"
            return True
        verb = _clause_verb(token.head)
        # "why do I have to wait" asks about the user's situation, not the doctor's objection; "help
        # me understand why" and "can I ask why" frame the question.
        mine = _is_first_person(_subject(verb)) and verb.lemma_.lower() not in ("understand", "know", "ask", "see")
        if facts.question_like and not mine:
            return True
    if facts.has("WHATS_WRONG"):
        return True
    if not facts.question_like:
        return False
    if _asks_grounds(facts):
        return True
    if any(not _first_person_feeling(span.root) for span in facts.concepts.get("REACTION", [])):
        return True
    # "Is there a reason you'd prefer I didn't?": a reason the doctor holds.
    return any(
        token.lemma_ == "reason" and any(_is_you(child) and child.dep_ == "nsubj" for child in token.subtree)
        for token in facts.sent
    )


def _asks_grounds(facts: _Facts) -> bool:
    """Asking what the doctor's view rests on -- "how sure are you?", "what makes you so certain?",
    "what evidence supports it?" -- asks the doctor to explain their stance, as "why" does. "Could it
    be something else?" asks about the illness, not the doctor's grounds, and is left out."""
    # "What evidence do I need to bring?" is the user's errand, not a question about the doctor.
    if any(not _is_first_person(_subject(_clause_verb(span.root))) for span in facts.concepts.get("GROUNDS", [])):
        return True
    return any(_how_sure_you(token) for token in facts.sent)


def _how_sure_you(token: Token) -> bool:
    """ "How certain are you?", "how confident do you feel?"; not "how sure is the lab?"."""
    if token.lemma_.lower() not in CERTAINTY or not any(child.lower_ == "how" for child in token.children):
        return False
    return _is_you(_subject(_clause_verb(token)))


def _first_person_feeling(token: Token) -> bool:
    """ "I'm worried" / "my concern" are the user's feelings, not the doctor's objection."""
    owner = next((child for child in token.children if child.dep_ == "poss"), None)
    if owner is not None:  # "my concern" is mine, "your hesitation" is the doctor's
        return _is_first_person(owner)
    return _is_first_person(_subject(_clause_verb(token)))


def _referral(facts: _Facts) -> bool:
    for span in facts.concepts.get("REFERRAL_NOUN", []):
        if not _negated(_clause_verb(span.root)) and not _under_negated_frame(span.root):
            return True
    request = _request_context(facts)
    for (verb,) in facts.deps.get("REFER", []):
        if request and not _negated(verb) and verb.tag_ != "VBD":
            return True
    # "help me get one", "a centre you could point me to", "put me in touch with a surgeon"
    recommendations = [facts.deps.get(label, []) for label in ("RECOMMEND", "RECOMMEND_REL", "POINT_REL", "CONNECT")]
    recommendations.append(facts.deps.get("HELP_ARRANGE", []))
    if request and any(not _negated(match[0]) for matches in recommendations for match in matches):
        return True
    if request and any(not _negated(span.root) for span in facts.concepts.get("HELP_ONE", [])):
        return True
    # "Is there another doctor I could see?" asks for a name; as a statement it is a plan.
    if facts.question_like and facts.deps.get("SEEK_REL"):
        return True
    if facts.question and _wh_recommendation(facts):
        return True
    return request and any(not _negated(match[0]) for match in facts.deps.get("RECORDS", []))


def _wh_recommendation(facts: _Facts) -> bool:
    """ "Who would you suggest I see?", "Where should I go for this?", "Who would you send me to?" """
    words = {token.lower_ for token in facts.sent}
    lemmas = {token.lemma_.lower() for token in facts.sent}
    if "which" in words and lemmas & set(PERSON_NOUNS):  # "which specialist would you see?"
        return True
    if words & {"who", "where"} and lemmas & {"recommend", "suggest", "trust"}:
        return True
    if "who" in words and lemmas & {"see", "go", "contact", "consult", "visit", "try"}:
        return True
    if words & {"who", "where"} and any(_sends_me(token) for token in facts.sent):
        return True
    # "Where should I go?" asks for advice; "where do I go for the blood test?" asks the way.
    advice = any(token.tag_ == "MD" for token in facts.sent) or facts.has("SO") or facts.has("SO_WEAK")
    return "where" in words and advice and bool(lemmas & {"see", "go", "contact", "consult", "visit", "try"})


def _sends_me(token: Token) -> bool:
    """ "send me", "point us": the user is the one sent; "who should I send the form to?" is an errand."""
    if token.lemma_.lower() not in ("send", "refer", "point", "direct"):
        return False
    return any(child.dep_ == "dobj" and child.lower_ in ("me", "us") for child in token.children)


def _request_context(facts: _Facts) -> bool:
    """A question, a polite or imperative request, or a stated need ("I need", "I'd like")."""
    if facts.question_like or facts.hedged:
        return True
    first = _first_content(facts.sent)
    if first is not None and first.tag_ == "VB" and first.dep_ == "ROOT":
        return True
    return any(
        token.lemma_.lower() in ("need", "want", "like", "appreciate", "require") and _is_first_person(_subject(token))
        for token in facts.sent
    )


def _reasons(facts: _Facts) -> list[Token]:
    """Anchor tokens of honest personal reasons (certainty, peace of mind, fear, seriousness, family)."""
    anchors = [span.root for label in ("PEACE", "FAMILY") for span in facts.concepts.get(label, [])]
    anchors += [span.root for span in facts.concepts.get("SERIOUS", []) if not _negated(_clause_verb(span.root))]
    anchors += [token for token in facts.sent if _reason_word(token)]
    anchors += _purposes(facts) + _taking_in(facts) + _wanting_every_option(facts)
    if facts.question_like or facts.hedged:
        return anchors  # "for my peace of mind, could you refer me?" is a reason attached to a request
    return [anchor for anchor in anchors if not _about_you(anchor)]


def _purposes(facts: _Facts) -> list[Token]:
    """ "so I can stop lying awake wondering": a first-person purpose that is about deciding, certainty or
    peace of mind; "so I can book the scan" is an errand, not a reason."""
    anchors = []
    for span in facts.concepts.get("PURPOSE", []):
        subject = next(token for token in span if token.lower_ in ("i", "we"))
        clause = {token.i for token in subject.head.subtree}
        anchors += [goal.root for goal in facts.concepts.get("GOAL", []) if goal.root.i in clause]
    return anchors


def _taking_in(facts: _Facts) -> list[Token]:
    """ "All of this is new to me", "another view would help me take it in": struggling with the news is a
    feeling. Asking the doctor to do it ("could you help me get my head around the results?", "could you
    take it in to the lab?") is a request, not a reason."""
    anchors = []
    for span in facts.concepts.get("TAKING_IN", []):
        verb = _clause_verb(span.root)
        verbs = [verb, *_ancestors_upto_sentence(verb)]
        if not any(_is_you(_subject(token)) for token in verbs) and _struggling(span.root, verb):
            anchors.append(span.root)
    return anchors


def _struggling(root: Token, verb: Token) -> bool:
    if root.lemma_.lower() in ("take", "get"):
        # "I can't take it all in" is the feeling itself; "I took it in to the pharmacy" is an errand done.
        return root.tag_ in ("VB", "VBG")
    return not _negated(verb)  # "this isn't new to me"


def _wanting_every_option(facts: _Facts) -> list[Token]:
    """ "I want to understand every option", "I need to know we've ruled everything else out": a need for
    certainty when the user wishes it; "have you ruled out an infection?" is a question, not a reason."""
    verbs = [match[0] for label in ("WEIGH_OPTIONS", "RULED_OUT") for match in facts.deps.get(label, [])]
    return [verb for verb in verbs if _wished(verb)]


def _wished(verb: Token) -> bool:
    """The verb, or one it hangs from, is wanted or needed by the user ("I need to know ...", "I owe it to
    my kids to ..."), and no verb on the way is negated ("I don't need to hear every option")."""
    chain = [verb, *_ancestors_upto_sentence(verb)]
    if any(_negated(token) for token in chain):
        return False
    return any(
        token.lemma_.lower() in WISH_LEMMAS
        and token.dep_ not in ("aux", "auxpass")
        and _is_first_person(_subject(token))
        for token in chain
    )


def _reason_word(token: Token) -> bool:
    """One word that carries a reason: wanting certainty, a feeling, honest doubt, a "because I ..."
    clause, or "this is serious"."""
    lemma = token.lemma_.lower()
    verb = _clause_verb(token)
    if lemma in CERTAINTY:
        return _wants_certainty(token)
    if lemma in EMOTION:
        return _feels(token)
    if lemma in DOUBT_WORDS and token.pos_ == "ADJ":
        return _is_first_person(_subject(verb))
    if token.dep_ == "mark" and token.lower_ in ("because", "since", "cause"):
        return _is_first_person(_subject(token.head)) and not _negated(token.head)
    if lemma in SERIOUS_ADJ and token.dep_ == "acomp":
        subject = _subject(verb)
        return subject is not None and subject.lower_ in ("this", "it", "that") and not _negated(verb)
    return False


def _wants_certainty(token: Token) -> bool:
    """ "I want to be sure", "just to be certain", "make sure" -- or honest doubt: "I'm not sure"."""
    head = token.head
    if any(child.dep_ == "ccomp" and _is_you(_subject(child)) for child in token.children):
        return False  # "I'm not sure you know what you're doing" is not a reason
    if any(child.dep_ == "nsubj" and _is_you(child) for child in token.children):
        return False  # "what makes you confident?" asks about the doctor's certainty, not the user's
    if head.lemma_.lower() == "make" or any(child.lower_ == "to" for child in head.children):
        return True
    if head.dep_ == "xcomp" or head.lemma_.lower() in ("want", "need", "like"):
        return True
    verb = _clause_verb(token)
    return _negated(verb) and _is_first_person(_subject(verb))


def _feels(token: Token) -> bool:
    verb = _clause_verb(token)
    if _negated(verb) or _negated(token):
        return False
    if any(child.dep_ == "dobj" and child.lower_ in ("me", "us") for child in token.children):
        return True
    return _is_first_person(_subject(verb)) or _is_first_person(_subject(token))


def _about_you(token: Token) -> bool:
    """A "reason" whose clause is about the doctor ("because you missed it") is not a personal reason."""
    return _is_you(_subject(_clause_verb(token)))


def _asks_opinion(facts: _Facts, line_has_so: bool, why: bool, referral: bool) -> bool:
    if why or not facts.question_like:
        return False
    taken = facts.covered("SO", "SO_WEAK", "PEACE", "INDIRECT", "REFERRAL_NOUN")
    # "Can you help me get one?" asks for help arranging it, not whether it would help.
    taken |= {token.i for match in facts.deps.get("HELP_ARRANGE", []) for token in match} | facts.covered("HELP_ONE")
    evals = [span.root for span in facts.concepts.get("EVAL", []) if span.root.i not in taken]
    strong = any(token.lemma_.lower() in STRONG_EVAL or token.lower_ in STRONG_EVAL for token in evals)
    if referral:
        return strong and (facts.has("SO") or facts.has("SO_WEAK") or facts.has("REFERRAL_NOUN"))
    if facts.has("SO"):
        return True
    if facts.has("SO_WEAK"):
        return bool(evals)
    # "What do you think?" after a sentence that mentioned a second opinion.
    return line_has_so and bool(evals)


# --------------------------------------------------------------------------------------------------
# Public analysis


def assess_line(text: str) -> LineAssessment:
    """Tag one rehearsal line; never raises on odd input (empty, huge, binary)."""
    clean = normalise(text or "")
    if not any(char.isalpha() for char in clean):
        return LineAssessment((), "?" in clean, False, False)
    facts = _sentence_facts(parse(clean))
    line_has_so = any(f.has("SO") for f in facts)
    found: set[str] = set()
    first_person_reason = False
    for fact in facts:
        why = _asks_why(fact)
        referral = _referral(fact)
        reasons = _reasons(fact)
        flags = {
            "asks_why": why,
            "requests_referral": referral,
            "honest_reason": bool(reasons),
            "accusatory": bool(_accusations(fact)),
            "announces": _announces(fact),
            "asks_opinion": _asks_opinion(fact, line_has_so, why, referral),
        }
        found |= {tag for tag, present in flags.items() if present}
        first_person_reason |= bool(reasons) and any(t.lower_ in FIRST_PERSON for t in fact.sent)
    return LineAssessment(
        tags=tuple(tag for tag in TAGS if tag in found),
        is_question=any(f.question for f in facts),
        hedged=any(f.hedged for f in facts),
        first_person_reason=first_person_reason,
    )
