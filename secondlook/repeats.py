"""Not saying the same sentence twice in a conversation: the bot's replies split into sentences, and the
sentences already sent dropped, unless the user asked for the same thing again.

A *sentence* ends with ".", "!" or "?" (a closing quote may follow); a line that does not (a step's
heading, a checklist row, a label ending in ":") is structure, not prose, and is never dropped. A
*request* is what the user's message asked for: its intent and entities. A sentence first sent for one
request is said again only for the same request ("Show my progress" twice, "Why?" twice)."""

import re
from collections.abc import Iterable, Mapping

_END = re.compile(r"[.!?…]+[”\"’')]*(?=\s|$)")


def sentences(line: str) -> list[str]:
    """The pieces of one line of text: sentences, and whatever follows the last one."""
    pieces, start = [], 0
    for end in _END.finditer(line):
        piece = line[start : end.end()].strip()
        if piece:
            pieces.append(piece)
        start = end.end()
    rest = line[start:].strip()
    return [*pieces, rest] if rest else pieces


def is_sentence(piece: str) -> bool:
    return bool(_END.search(piece)) and _END.search(piece).end() == len(piece)


def key(sentence: str) -> str:
    return " ".join(sentence.split()).casefold()


# Entities that describe how something was said, not what was asked for.
_NOT_ASKED = {"mood"}


def request_of(intent: str | None, entities: Iterable[Mapping]) -> str:
    """What a user message asked for, as a comparable string: the intent and the entities' values."""
    named = sorted(
        f"{entity.get('entity')}={entity.get('value')}"
        for entity in entities or []
        if entity.get("entity") not in _NOT_ASKED
    )
    return "|".join([intent or "", *named])


def said_for(turns: Iterable[tuple[str, str]]) -> dict[str, set[str]]:
    """For each sentence sent (by key), the requests it answered; `turns` are (request, bot text) pairs."""
    said: dict[str, set[str]] = {}
    for request, text in turns:
        for line in text.splitlines():
            for piece in sentences(line):
                if is_sentence(piece):
                    said.setdefault(key(piece), set()).add(request)
    return said


def _without(text: str, said: Mapping[str, set[str]], request: str, seen_now: set[str]) -> str:
    lines = []
    for line in text.splitlines():
        kept = []
        for piece in sentences(line):
            if is_sentence(piece):
                earlier = said.get(key(piece))
                if key(piece) in seen_now or (earlier is not None and request not in earlier):
                    continue
                seen_now.add(key(piece))
            kept.append(piece)
        if kept or not line.strip():
            lines.append(" ".join(kept))
    return "\n".join(lines).strip()


def drop_repeats(messages: list[dict], said: Mapping[str, set[str]], request: str) -> list[dict]:
    """The messages of one reply without the sentences already sent in the conversation for another
    request, nor twice within the reply. A message left without text is dropped; its buttons move to the
    message before. If nothing at all would be left to read, the reply is sent whole: a repeat is better
    than silence."""
    seen_now: set[str] = set()
    kept: list[dict] = []
    for message in messages:
        if not message.get("text"):
            kept.append(message)
            continue
        text = _without(message["text"], said, request, seen_now)
        if text:
            kept.append({**message, "text": text})
        elif message.get("buttons"):
            earlier_text = next((m for m in reversed(kept) if m.get("text") and not m.get("buttons")), None)
            if earlier_text is None:
                return messages
            earlier_text["buttons"] = message["buttons"]
    if any(message.get("text") for message in messages) and not any(message.get("text") for message in kept):
        return messages
    return kept
