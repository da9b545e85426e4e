"""The four places where the project changes Rasa's own code, in one module, each checked against the
Rasa it was written for:

- `RemoteAction.run` is wrapped (`install_action_fallback`): a time limit, and an honest reply
  (channels/guard.py `fallback_events`) when a custom action fails, which Rasa 3.6 would swallow;
- `FailSafeTrackerStore`'s error callback is set (`keep_conversations_in_their_store`) so that a
  tracker store that is down fails the turn instead of carrying on with an empty conversation;
- `RemoteAction._validate_action_result` checks the action server's reply with a validator compiled
  once (`install_compiled_reply_check`). Rasa calls `jsonschema.validate` on every action call, which
  first validates the schema itself against its meta-schema: under 16 users that was 13 % of the Rasa
  server's CPU (py-spy, docs/profile/). The same schema, the same errors, the same message;
- `MessageProcessor._parse_message_with_graph` answers a button's payload ("/next_step",
  '/report_progress{"journey_step": "ask_doctor"}') without running the NLU pipeline
  (`install_payload_shortcut`). The graph's last node, Rasa's RegexMessageHandler, replaces whatever the
  pipeline made of such a text by the payload's intent and entities; the shortcut calls the same
  unpacking first, so the result is the same and the spaCy, DIET, CRF and encoder passes (13 ms of a
  payload's parse) are not spent. Text that is not a payload of a known intent goes through the graph.

Rasa gives a project no start hook but its channels, so each of our channels calls `apply` from its
`blueprint()` (Rasa builds those while it sets the server up, before it serves): whichever channels
credentials.yml enables, the patches are in, and what `apply` does happens once. It first checks the
Rasa version and the source of what is patched (a SHA-256 of `inspect.getsource`); on any other
Rasa it raises, and `rasa run` stops at start instead of running with a patch that may no longer fit.
After an upgrade: read the patched code again, adapt the patch, then update `WRITTEN_FOR` and the
hashes (`python -m channels.rasa_patches` prints the current ones).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import rasa
from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
from rasa.core.processor import MessageProcessor
from rasa.core.tracker_store import FailSafeTrackerStore
from rasa.nlu.classifiers.regex_message_handler import RegexMessageHandler
from rasa.shared.constants import DOCS_BASE_URL, INTENT_MESSAGE_PREFIX
from rasa.shared.core.events import Event
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_NAME_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from sanic import Blueprint

from channels.guard import FALLBACK_MARK, action_timeout, fallback_events

logger = logging.getLogger(__name__)

WRITTEN_FOR = "3.6.21"  # the Rasa version whose code the patches below were read against


class RasaChanged(RuntimeError):
    """The installed Rasa is not the one a patch was written for."""


@dataclass(frozen=True)
class Patched:
    """Rasa code a patch depends on: its dotted name, how to get it, the SHA-256 of its source."""

    name: str
    target: Callable[[], Any]
    sha256: str


_ORIGINAL_RUN = RemoteAction.run  # read before any wrapping: the check is of Rasa's own code
_ORIGINAL_VALIDATE = RemoteAction._validate_action_result
_ORIGINAL_PARSE = MessageProcessor._parse_message_with_graph
_ORIGINAL_UNPACK = YAMLStoryReader.unpack_regex_message
COMPILED_MARK = "_secondlook_compiled_reply_check"
PAYLOAD_MARK = "_secondlook_payload_shortcut"

PATCHED = (
    Patched(
        "rasa.core.actions.action.RemoteAction.run",
        lambda: _ORIGINAL_RUN,
        "ccabf6f1160d527a157fad5bd285ce69e8221b1bcad23f8a61499b4360a1c17e",
    ),
    Patched(
        "rasa.core.actions.action.RemoteAction._validate_action_result",
        lambda: _ORIGINAL_VALIDATE,
        "f8cdb4be6812396167ced74161b2ccd65c5ea676ad86d7d359d8c322d9d8dc42",
    ),
    Patched(
        "rasa.core.processor.MessageProcessor._parse_message_with_graph",
        lambda: _ORIGINAL_PARSE,
        "0bd50a53b5c013af8458cbefe5dbcbd5c02c82a671a841b1947b3e8964e5c3d1",
    ),
    # What the graph's RegexMessageHandler calls, and the shortcut calls too.
    Patched(
        "rasa.shared.core.training_data.story_reader.yaml_story_reader.YAMLStoryReader.unpack_regex_message",
        lambda: _ORIGINAL_UNPACK,
        "bf81f8a66c2c3e526dd4eba42de36f716b7c5f9fafbe91ece460bcb6e157fa91",
    ),
    # The whole class: the patch relies on every method calling the callback before falling back.
    Patched(
        "rasa.core.tracker_store.FailSafeTrackerStore",
        lambda: FailSafeTrackerStore,
        "84833481b14c227182874efd8cc077b834354f124289234c9ea26c053ec64e29",
    ),
)


def source_hash(code: Any) -> str:
    return hashlib.sha256(inspect.getsource(code).encode()).hexdigest()


def check(patched: Patched, version: str | None = None) -> None:
    """Raises `RasaChanged` unless Rasa is `WRITTEN_FOR` and the patched code is the code read."""
    version = rasa.__version__ if version is None else version
    if version != WRITTEN_FOR:
        raise RasaChanged(
            f"channels/rasa_patches.py was written for Rasa {WRITTEN_FOR}, this is Rasa {version}: "
            f"read {patched.name} again and update the patch"
        )
    if source_hash(patched.target()) != patched.sha256:
        raise RasaChanged(
            f"{patched.name} is not the code channels/rasa_patches.py was written for: read it again "
            "and update the patch and its hash"
        )


def apply(blueprint: Blueprint) -> None:
    """Checks and applies the patches: `RemoteAction.run` and its reply check once per process, the
    tracker store's callback after the server has started (the agent is loaded by then)."""
    for patched in PATCHED:
        check(patched)
    install_action_fallback()
    install_compiled_reply_check()
    install_payload_shortcut()
    blueprint.listener("after_server_start")(keep_conversations_in_their_store)


class ConversationStoreUnavailable(Exception):
    """The tracker store can't be read or written: the turn stops here (and gets the honest reply)."""


def _refuse_in_memory_fallback(error: Exception) -> None:
    raise ConversationStoreUnavailable(type(error).__name__) from error


async def keep_conversations_in_their_store(app: Any, _loop: Any = None) -> None:
    """Rasa wraps the tracker store in a `FailSafeTrackerStore` which, when the database is down,
    carries on with an empty conversation in memory: the user would meet a stranger (the disclaimer
    again, no progress) and what they said meanwhile would be lost when the database is back. Its
    error callback (a constructor argument Rasa never sets) is made to raise instead, so such a turn
    fails and gets the honest reply. An `after_server_start` listener (the agent is loaded before); a
    model loaded later through the HTTP API doesn't get it."""
    store = getattr(getattr(app.ctx, "agent", None), "tracker_store", None)
    if isinstance(store, FailSafeTrackerStore):
        store._on_tracker_store_error = _refuse_in_memory_fallback


def install_action_fallback() -> None:
    """Wraps `RemoteAction.run` once per process: a time limit, and `fallback_events` on any failure.

    A rejection (`ActionExecutionRejection`, a form's validation saying no) is normal dialogue and
    passes through; cancellation (a server shutting down) too."""
    if getattr(RemoteAction.run, FALLBACK_MARK, False):
        return
    original = RemoteAction.run

    async def run(self: RemoteAction, output_channel: Any, nlg: Any, tracker: Any, domain: Any) -> list[Event]:
        try:
            return await asyncio.wait_for(original(self, output_channel, nlg, tracker, domain), action_timeout())
        except ActionExecutionRejection:
            raise
        except Exception as error:
            logger.error("custom action %s failed (%s); the user gets the honest reply", self.name(), repr(error))
            return fallback_events(self.name(), tracker)

    setattr(run, FALLBACK_MARK, True)
    RemoteAction.run = run


@functools.lru_cache(maxsize=1)
def _reply_validator() -> Any:
    """The validator `jsonschema.validate` would pick for Rasa's reply schema, its schema checked once."""
    from jsonschema.validators import validator_for

    schema = RemoteAction.action_response_format_spec()
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def install_compiled_reply_check() -> None:
    """Replaces `RemoteAction._validate_action_result` with the same check through a validator compiled
    once: `jsonschema.validate(result, schema)` is `check_schema` + a new validator + `best_match` of its
    errors on every call; only the last part depends on the reply."""
    if getattr(RemoteAction._validate_action_result, COMPILED_MARK, False):
        return
    from jsonschema.exceptions import best_match

    def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
        error = best_match(_reply_validator().iter_errors(result))
        if error is None:
            return True
        error.message += (
            ". Failed to validate Action server response from API, make sure your response from the Action "
            f"endpoint is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions"
        )
        raise error

    setattr(_validate_action_result, COMPILED_MARK, True)
    RemoteAction._validate_action_result = _validate_action_result


def parsed_payload(text: str, domain: Any) -> Message | None:
    """A button's payload unpacked as the graph's RegexMessageHandler would; None for anything else (text,
    a malformed payload, an intent the domain does not know), which the NLU pipeline reads."""
    if not (text or "").strip().startswith(INTENT_MESSAGE_PREFIX):
        return None
    message = Message(data={TEXT: text})
    unpacked = YAMLStoryReader.unpack_regex_message(message, domain, entity_extractor_name=RegexMessageHandler.__name__)
    return None if unpacked is message else unpacked


def install_payload_shortcut() -> None:
    """Wraps `MessageProcessor._parse_message_with_graph`: a payload's parse without the pipeline."""
    original = MessageProcessor._parse_message_with_graph
    if getattr(original, PAYLOAD_MARK, False):
        return

    def _parse_message_with_graph(
        self: MessageProcessor, message: Any, tracker: Any, only_output_properties: bool = True
    ) -> dict[str, Any]:
        payload = parsed_payload(message.text, self.domain)
        if payload is None:
            return original(self, message, tracker, only_output_properties)
        parse_data = {TEXT: "", INTENT: {INTENT_NAME_KEY: None, PREDICTED_CONFIDENCE_KEY: 0.0}, ENTITIES: []}
        parse_data.update(payload.as_dict(only_output_properties=only_output_properties))
        return parse_data

    setattr(_parse_message_with_graph, PAYLOAD_MARK, True)
    MessageProcessor._parse_message_with_graph = _parse_message_with_graph


if __name__ == "__main__":
    print(f"Rasa {rasa.__version__}")
    for item in PATCHED:
        print(f"{item.name} {source_hash(item.target())}")
