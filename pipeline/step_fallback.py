"""Rasa's FallbackClassifier, judging how sure the NLU is about what to *do* rather than about the intent.

Several intents lead to the same journey step (doubt_diagnosis, ask_second_opinion_worth and
ask_how_to_raise all lead to step 1). A patient's story that is 0.3 "doubt my diagnosis" and 0.3 "is a
second opinion worth it" is not unclear at all: either way the answer is step 1's advice. Rasa's
classifier saw a top intent under its threshold and two intents 0.05 apart, and asked "Did you mean…?"
(the long messages of the people's-words sets got the clarifying question a quarter of the time).

Here the confidence of the top intent is pooled with that of every intent leading to the same step
(content/journey.yml), and the ambiguity is measured between that step and the best *other* step or
intent. Intents outside the journey (progress, rehearsal, small talk…) stand alone, as before. The
intent on the message stays the top one; only the decision to ask changes.
"""

from __future__ import annotations

from functools import cached_property

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.classifiers.fallback_classifier import FallbackClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY
from rasa.shared.nlu.training_data.message import Message

from secondlook.journey import load_journey


def pooled_by_group(ranking: list[dict], group_of: dict[str, str]) -> dict[str, float]:
    """The ranking's confidences summed per group (an intent without a group is a group of its own)."""
    pooled: dict[str, float] = {}
    for item in ranking:
        name = item.get(INTENT_NAME_KEY)
        group = group_of.get(name, name)
        pooled[group] = pooled.get(group, 0.0) + float(item.get(PREDICTED_CONFIDENCE_KEY) or 0.0)
    return pooled


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class StepFallbackClassifier(FallbackClassifier):
    @cached_property
    def _step_of_intent(self) -> dict[str, str]:
        return {intent: step.id for step in load_journey().steps for intent in step.intents}

    def _top_and_runner_up(self, message: Message) -> tuple[float, float | None]:
        """The pooled confidence of the top intent's group, and of the best other group (None if none)."""
        top = message.data.get(INTENT) or {}
        ranking = message.data.get(INTENT_RANKING_KEY) or [top]
        pooled = pooled_by_group(ranking, self._step_of_intent)
        name = top.get(INTENT_NAME_KEY)
        group = self._step_of_intent.get(name, name)
        top_confidence = pooled.pop(group, float(top.get(PREDICTED_CONFIDENCE_KEY) or 0.0))
        return top_confidence, max(pooled.values(), default=None)

    def _nlu_confidence_below_threshold(self, message: Message) -> tuple[bool, float]:
        confidence, _ = self._top_and_runner_up(message)
        return confidence < self.component_config["threshold"], confidence

    def _nlu_prediction_ambiguous(self, message: Message) -> tuple[bool, float | None]:
        confidence, runner_up = self._top_and_runner_up(message)
        if runner_up is None:
            return False, None
        difference = confidence - runner_up
        return difference < self.component_config["ambiguity_threshold"], difference
