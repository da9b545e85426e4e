"""The rehearsal engine (secondlook/rehearsal/) and its reviewed texts (content/rehearsal.yml): line
tagging against the labelled lines in tests/rehearsal/lines.yml, the doctor's tension and replies,
coaching, the summary, robustness to odd input, and originality against the seed article."""

import hashlib
import json
import re
import time

import pytest
import yaml

from secondlook import rehearsal
from secondlook.paths import PROJECT_ROOT
from secondlook.rehearsal import (
    MAX_TURNS,
    SCENARIOS,
    TAGS,
    TEMPERAMENTS,
    LineAssessment,
    RehearsalState,
    assess_line,
    load_nlp,
    opening_line,
    scenario_title,
    start,
    summary,
    take_turn,
    temperament_title,
)

LINES = yaml.safe_load((PROJECT_ROOT / "tests" / "rehearsal" / "lines.yml").read_text(encoding="utf-8"))
CONTENT = yaml.safe_load((PROJECT_ROOT / "content" / "rehearsal.yml").read_text(encoding="utf-8"))
ARTICLE = PROJECT_ROOT.parent / "shared" / "seed" / "second-opinion-article.txt"
SEED_HASHES = PROJECT_ROOT / "tests" / "fixtures" / "seed_shingles.sha256"

ACCUSATION = "You missed it, you clearly don't know what you're doing."
GOOD_QUESTION = "I'm scared and I want to be sure. Would it make sense to get a second opinion?"
NEUTRAL = "Thanks for explaining all that."


# --------------------------------------------------------------------------------------------------
# Tagging


def test_the_labelled_lines_cover_every_tag_combinations_and_none():
    assert len(LINES) >= 70
    seen = [tuple(item["tags"]) for item in LINES]
    for tag in TAGS:
        assert sum(tag in tags for tags in seen) >= 5, tag
    assert sum(len(tags) >= 2 for tags in seen) >= 10
    assert sum(not tags for tags in seen) >= 8
    assert len({item["text"] for item in LINES}) == len(LINES), "duplicate lines"
    for item in LINES:
        assert set(item["tags"]) <= set(TAGS), item
        assert list(item["tags"]) == [tag for tag in TAGS if tag in item["tags"]], f"not in TAGS order: {item}"


@pytest.mark.parametrize("item", LINES, ids=[item["text"][:50] for item in LINES])
def test_each_labelled_line_gets_exactly_its_tags(item):
    assert assess_line(item["text"]).tags == tuple(item["tags"])


def test_tag_accuracy_over_the_labelled_lines():
    """Per-tag precision and recall (printed with `pytest -s`); a floor so a regression shows up as
    one clear failure as well as in the per-line tests."""
    counts = {tag: {"tp": 0, "fp": 0, "fn": 0} for tag in TAGS}
    exact = 0
    for item in LINES:
        got, want = set(assess_line(item["text"]).tags), set(item["tags"])
        exact += got == want
        for tag in TAGS:
            counts[tag]["tp"] += tag in got and tag in want
            counts[tag]["fp"] += tag in got and tag not in want
            counts[tag]["fn"] += tag in want and tag not in got
    print(f"\nexact match {exact}/{len(LINES)}")
    for tag, c in counts.items():
        precision = c["tp"] / ((c["tp"] + c["fp"]) or 1)
        recall = c["tp"] / ((c["tp"] + c["fn"]) or 1)
        print(f"{tag:18} precision {precision:.2f} recall {recall:.2f}")
        assert precision >= 0.9 and recall >= 0.9, tag
    assert exact / len(LINES) >= 0.9


@pytest.mark.parametrize(
    "text,tags",
    [
        # Reasons as a purpose, a feeling, a duty to family, a need for certainty.
        ("I'm only asking so that we can make this choice calmly.", ("honest_reason",)),
        ("Honestly it's all so new to me that I can barely take it in.", ("honest_reason",)),
        ("My grandchildren need me to be careful with this.", ("honest_reason",)),
        ("I need to hear about every alternative before I sign anything.", ("honest_reason",)),
        ("I'd like to be certain we've ruled everything else out.", ("honest_reason",)),
        # Asking for a name, help arranging it, or the notes sent on.
        ("Who would you refer me to?", ("requests_referral",)),
        ("Could you help me book one?", ("requests_referral",)),
        ("Is there a cardiologist I could see for another view?", ("requests_referral",)),
        ("Could you put us in touch with a specialist in Bristol?", ("requests_referral",)),
        # Asking what the doctor's view rests on.
        ("How certain can you be?", ("asks_why",)),
        ("What makes you confident it's a cyst?", ("asks_why",)),
        ("What evidence points to it?", ("asks_why",)),
    ],
)
def test_peoples_own_phrasings(text, tags):
    assert assess_line(text).tags == tags


@pytest.mark.parametrize(
    "text",
    [
        "Could it be something else entirely?",  # about the illness, not the doctor's grounds
        "How sure is the lab about these numbers?",  # not the doctor's certainty
        "What evidence should I bring to the tribunal?",  # the user's errand
        "So I can catch my train, how long will this take?",  # a purpose that is not a reason
        "I don't want to hear every option today.",  # no wish for certainty
        "Where do I go to pay for parking?",  # asking the way, not for a doctor
        "Who should I give this form to?",
        "The surgeon you sent me to was lovely.",
    ],
)
def test_look_alikes_of_the_new_phrasings_get_no_tag(text):
    assert assess_line(text).tags == ()


@pytest.mark.parametrize(
    "text,is_question",
    [
        ("Should I get a second opinion?", True),
        ("could you refer me to someone", True),
        ("what do you think about another opinion", True),
        ("Is it worth it", True),
        ("I'm going to see someone else.", False),
        ("I was wondering whether another view would help.", False),
        ("You missed it", False),
    ],
)
def test_is_question(text, is_question):
    assert assess_line(text).is_question is is_question


@pytest.mark.parametrize(
    "text,hedged",
    [
        ("Could you refer me to a specialist?", True),
        ("Would it make sense to get a second opinion?", True),
        ("I was wondering if you'd send my records.", True),
        ("It might be worth another look.", True),
        ("Would you mind if I saw someone else?", True),
        ("Refer me to someone else.", False),
        ("I want a second opinion.", False),
        ("Why are you against it?", False),
    ],
)
def test_hedged(text, hedged):
    assert assess_line(text).hedged is hedged


@pytest.mark.parametrize(
    "text,first_person",
    [
        ("I want to be sure.", True),
        ("Because I'm scared.", True),
        ("For my peace of mind, could you refer me?", True),
        ("It's a big decision for me.", True),
        ("It's a serious diagnosis.", False),
        ("You missed it.", False),
        ("Could you refer me?", False),
    ],
)
def test_first_person_reason(text, first_person):
    assert assess_line(text).first_person_reason is first_person


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "?",
        "\x00\x01\x02\xff\ufffd",
        "second opinion " * 400,
        "a" * 5000,
        "🙂🙂🙂",
        "\n\t\r",
        b"\x89PNG\r\n\x1a\n\x00\x00".decode("latin-1"),
        "why why why why why not not not you you you",
    ],
)
def test_odd_input_does_not_raise(text):
    result = assess_line(text)
    assert isinstance(result, LineAssessment)
    assert set(result.tags) <= set(TAGS)
    state = take_turn(start("defensive", "defensive"), text, 0).state
    assert len(state.turns) == 1


def test_huge_input_is_capped_and_still_fast():
    began = time.perf_counter()
    assess_line("I want to be sure and you missed it. " * 2000)
    assert time.perf_counter() - began < 2


def test_assessing_a_line_is_fast():
    load_nlp()
    began = time.perf_counter()
    for item in LINES:
        assess_line(item["text"])
    mean_ms = (time.perf_counter() - began) / len(LINES) * 1000
    print(f"\nmean {mean_ms:.1f} ms per line")
    assert mean_ms < 50


def test_the_pipeline_has_the_parser():
    assert "parser" in load_nlp().pipe_names
    assert load_nlp() is load_nlp()


# --------------------------------------------------------------------------------------------------
# State


def test_state_round_trips_through_json():
    state = start("referral", "rushed")
    state = take_turn(state, GOOD_QUESTION, 0).state
    state = take_turn(state, ACCUSATION, 1).state
    restored = RehearsalState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert restored == state


@pytest.mark.parametrize(
    "data",
    [
        None,
        {},
        [],
        "referral",
        42,
        {"scenario": "nope", "temperament": "rushed"},
        {"scenario": "referral", "temperament": "grumpy"},
        {"scenario": "referral", "temperament": "rushed", "tension": "high"},
        {"scenario": "referral", "temperament": "rushed", "tension": True},
        {"scenario": "referral", "temperament": "rushed", "turns": "asks_why"},
        {"scenario": "referral", "temperament": "rushed", "turns": [["not_a_tag"]]},
        {"scenario": "referral", "temperament": "rushed", "turns": [None]},
    ],
)
def test_from_dict_returns_none_for_missing_or_malformed_data(data):
    assert RehearsalState.from_dict(data) is None


def test_from_dict_clamps_tension():
    data = {"scenario": "defensive", "temperament": "defensive", "tension": 99, "turns": []}
    assert RehearsalState.from_dict(data).tension == 3


@pytest.mark.parametrize("temperament,tension", [("supportive", 0), ("rushed", 1), ("defensive", 2)])
def test_start_tension_follows_the_temperament(temperament, tension):
    state = start("ask_opinion", temperament)
    assert (state.scenario, state.temperament, state.tension, state.turns) == ("ask_opinion", temperament, tension, [])


@pytest.mark.parametrize("scenario,temperament", [("unknown", "rushed"), ("referral", "grumpy"), ("", "")])
def test_unknown_names_raise_value_error(scenario, temperament):
    with pytest.raises(ValueError):
        start(scenario, temperament)


def test_unknown_titles_raise_value_error():
    with pytest.raises(ValueError):
        scenario_title("unknown")
    with pytest.raises(ValueError):
        temperament_title("unknown")


def test_titles_are_short_button_labels():
    for name in SCENARIOS:
        assert 0 < len(scenario_title(name)) <= 40
    for name in TEMPERAMENTS:
        assert 0 < len(temperament_title(name)) <= 40


# --------------------------------------------------------------------------------------------------
# Turns


def test_an_accusation_makes_the_defensive_doctor_more_defensive():
    state = start("ask_opinion", "defensive")
    result = take_turn(state, ACCUSATION, 0)
    assert "accusatory" in result.state.turns[-1]
    assert result.state.tension > state.tension
    assert result.doctor_reply in CONTENT["replies"]["defensive"]["accused"]
    assert not result.finished
    # The same doctor answers a respectful line very differently.
    calm = take_turn(state, GOOD_QUESTION, 0)
    assert calm.doctor_reply not in CONTENT["replies"]["defensive"]["accused"]


def test_an_accusation_raises_tension_more_with_a_defensive_doctor():
    rises = {
        name: take_turn(RehearsalState("ask_opinion", name, 0, []), ACCUSATION, 0).state.tension
        for name in TEMPERAMENTS
    }
    assert rises["defensive"] > rises["supportive"] > 0
    assert rises["rushed"] == rises["supportive"]


def test_announcing_raises_tension():
    state = start("ask_opinion", "supportive")
    result = take_turn(state, "I've decided to get a second opinion.", 0)
    assert result.state.tension == 1
    assert result.doctor_reply in CONTENT["replies"]["supportive"]["announced"]


def test_a_respectful_question_with_an_honest_reason_lowers_tension():
    state = start("ask_opinion", "defensive")
    result = take_turn(state, GOOD_QUESTION, 0)
    assert set(result.state.turns[-1]) >= {"asks_opinion", "honest_reason"}
    assert result.state.tension < state.tension


def test_asking_why_calms_the_doctor():
    state = RehearsalState("defensive", "defensive", 3, [])
    result = take_turn(state, "Can I ask what worries you about it?", 0)
    assert result.state.tension < 3
    assert result.doctor_reply in CONTENT["replies"]["defensive"]["why_guarded"]


def test_tension_is_clamped():
    state = start("defensive", "defensive")
    for variant in range(3):
        state = take_turn(state, ACCUSATION, variant).state
    assert state.tension == 3
    calm = start("ask_opinion", "supportive")
    assert take_turn(calm, GOOD_QUESTION, 0).state.tension == 0


def test_a_referral_request_to_a_calm_doctor_gets_the_referral_and_to_a_tense_one_pushback():
    line = "Could you refer me to a specialist outside this hospital?"
    calm = take_turn(start("referral", "supportive"), line, 0)
    assert calm.doctor_reply in CONTENT["replies"]["supportive"]["referral_yes"]
    assert calm.finished
    tense = take_turn(RehearsalState("referral", "defensive", 3, []), line, 0)
    assert tense.doctor_reply in CONTENT["replies"]["defensive"]["referral_no"]
    assert not tense.finished


def test_the_state_passed_in_is_not_changed():
    state = start("referral", "rushed")
    take_turn(state, ACCUSATION, 0)
    assert state == start("referral", "rushed")


def test_different_variants_give_different_replies_and_coaching():
    state = start("ask_opinion", "defensive")
    replies = {take_turn(state, ACCUSATION, variant).doctor_reply for variant in range(3)}
    assert len(replies) == 3
    coaching = {take_turn(state, ACCUSATION, variant).coaching for variant in range(2)}
    assert len(coaching) == 2
    assert take_turn(state, ACCUSATION, 7).doctor_reply == take_turn(state, ACCUSATION, 7).doctor_reply


def test_opening_lines_vary_and_wrap_around():
    for scenario in SCENARIOS:
        for temperament in TEMPERAMENTS:
            state = start(scenario, temperament)
            lines = [opening_line(state, variant) for variant in range(3)]
            assert len(set(lines)) == 3
            assert opening_line(state, 3) == lines[0]
            assert opening_line(state, -1) == lines[2]


def test_finished_after_max_turns():
    state = start("ask_opinion", "rushed")
    for turn in range(1, MAX_TURNS + 1):
        result = take_turn(state, NEUTRAL, turn)
        state = result.state
        assert result.finished is (turn == MAX_TURNS)
    assert len(state.turns) == MAX_TURNS


def test_finished_early_when_the_goal_is_reached():
    result = take_turn(start("ask_opinion", "supportive"), GOOD_QUESTION, 0)
    assert result.finished
    assert result.doctor_reply in CONTENT["replies"]["supportive"]["opinion_yes"]


def test_coaching_for_an_accusation_offers_a_better_phrasing_in_quotes():
    result = take_turn(start("ask_opinion", "rushed"), ACCUSATION, 0)
    assert "step 2" in result.coaching.lower()
    assert re.search(r"“[^”]{20,}”", result.coaching)


def test_coaching_for_an_announcement_points_to_step_1_with_a_phrasing():
    result = take_turn(start("ask_opinion", "rushed"), "I'm going to see someone else.", 1)
    assert "step 1" in result.coaching.lower()
    assert re.search(r"“[^”]{20,}”", result.coaching)


def test_coaching_praises_a_good_line_and_names_the_step():
    result = take_turn(start("defensive", "defensive"), "Can I ask what worries you about it?", 0)
    assert "step 4" in result.coaching
    result = take_turn(start("referral", "rushed"), "I'm scared. I just want to be sure.", 0)
    assert "step 2" in result.coaching and "step 3" in result.coaching  # praise, then what's missing


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("temperament", TEMPERAMENTS)
@pytest.mark.parametrize("variant", range(3))
def test_every_message_is_chat_sized(scenario, temperament, variant):
    state = start(scenario, temperament)
    texts = [opening_line(state, variant)]
    for line in (ACCUSATION, "I'm going elsewhere.", NEUTRAL, GOOD_QUESTION, "Could you send my records?"):
        result = take_turn(state, line, variant)
        texts += [result.doctor_reply, result.coaching]
        state = result.state
    texts += summary(state)
    for text in texts:
        assert 0 < len(text) < 300, text
        assert "{" not in text and "}" not in text, text


# --------------------------------------------------------------------------------------------------
# Summary


def test_summary_names_what_went_well_what_to_practise_a_script_and_another_temperament():
    state = start("ask_opinion", "supportive")
    state = take_turn(state, ACCUSATION, 0).state
    state = take_turn(state, "I'm going to see someone else.", 0).state
    state = take_turn(state, "Could you refer me to a specialist?", 0).state
    messages = summary(state)
    assert len(messages) == 4
    well, practise, script, offer = messages
    assert CONTENT["summary"]["did_well"]["requests_referral"] in well
    assert CONTENT["summary"]["practise"]["accusatory"] in practise
    assert CONTENT["summary"]["practise"]["announces"] in practise
    assert "“" in script and CONTENT["summary"]["script"]["pieces"]["reassure"] in script
    assert CONTENT["summary"]["script"]["pieces"]["asks_opinion"] in script
    assert "rushed" in offer  # the temperament after "supportive"


def test_summary_of_a_clean_run_praises_the_key_skills():
    state = start("defensive", "defensive")
    state = take_turn(state, "Why are you against it? I just want peace of mind.", 0).state
    well, practise, script, offer = summary(state)
    assert CONTENT["summary"]["did_well"]["asks_why"] in well
    assert CONTENT["summary"]["did_well"]["honest_reason"] in well
    assert CONTENT["summary"]["practise"]["accusatory"] not in practise
    assert CONTENT["summary"]["script"]["pieces"]["reassure"] not in script
    assert "supportive" in offer  # wraps around after "defensive"


def test_summary_with_no_good_moves_still_encourages():
    state = take_turn(start("referral", "rushed"), ACCUSATION, 0).state
    well, practise, _, offer = summary(state)
    assert CONTENT["summary"]["did_well"]["nothing"] in well
    assert CONTENT["summary"]["practise"]["requests_referral"] in practise
    assert "defensive" in offer


def test_every_summary_is_at_most_80_words_in_all():
    from itertools import combinations

    from secondlook.rehearsal import SCENARIOS, TEMPERAMENTS

    tags = ["accusatory", "announces", "asks_opinion", "honest_reason", "requests_referral", "asks_why"]
    longest = 0
    for scenario in SCENARIOS:
        for temperament in TEMPERAMENTS:
            for count in range(len(tags) + 1):
                for used in combinations(tags, count):
                    state = start(scenario, temperament)
                    state.turns.append(list(used))
                    messages = summary(state)
                    assert len(messages) == 4 and all(messages)
                    longest = max(longest, sum(len(message.split()) for message in messages))
    assert 60 < longest <= 80


def test_summary_of_an_empty_rehearsal():
    messages = summary(start("referral", "supportive"))
    assert len(messages) == 4 and all(messages)


# --------------------------------------------------------------------------------------------------
# Content


def _strings(node) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [text for value in node.values() for text in _strings(value)]
    if isinstance(node, list):
        return [text for value in node for text in _strings(value)]
    return []


def test_content_has_enough_variations_everywhere():
    for scenario in SCENARIOS:
        for temperament in TEMPERAMENTS:
            assert len(set(CONTENT["openings"][scenario][temperament])) >= 3
    for temperament in TEMPERAMENTS:
        for situation in rehearsal.SITUATIONS:
            assert len(set(CONTENT["replies"][temperament][situation])) >= 3, (temperament, situation)
    for tag in ("asks_opinion", "honest_reason", "requests_referral", "asks_why"):
        assert CONTENT["coaching"]["worked"][tag] and CONTENT["coaching"]["missing"][tag]
        assert CONTENT["summary"]["did_well"][tag] and CONTENT["summary"]["practise"][tag]
    for tag in ("accusatory", "announces"):
        assert CONTENT["coaching"]["change"][tag] and CONTENT["summary"]["practise"][tag]


def test_every_content_string_is_chat_sized():
    for text in _strings(CONTENT):
        assert len(text) < 300, text


def _words(text: str) -> list[str]:
    """Lower case, punctuation (apostrophes included) to spaces."""
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).split()


def _runs(words: list[str], size: int = 6) -> set[str]:
    return {" ".join(words[i : i + size]) for i in range(len(words) - size + 1)}


def test_no_content_string_shares_a_six_word_run_with_the_seed_article():
    texts = _strings(CONTENT)
    if ARTICLE.exists():
        seed = _runs(_words(ARTICLE.read_text(encoding="utf-8")))
        copied = {run for text in texts for run in _runs(_words(text))} & seed
        assert not copied, f"content/rehearsal.yml repeats seed article runs: {sorted(copied)}"
    else:
        # Away from the shared folder, compare against the project's hashed shingles of the article.
        seed_hashes = {line for line in SEED_HASHES.read_text().splitlines() if not line.startswith("#")}

        def hashed(text: str) -> set[str]:
            words = re.sub(r"[^a-z0-9']+", " ", text.lower().replace("’", "'")).split()
            return {hashlib.sha256(run.encode()).hexdigest()[:16] for run in _runs(words)}

        assert not {h for text in texts for h in hashed(text)} & seed_hashes
