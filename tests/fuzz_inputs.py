"""The hypothesis strategies of the fuzz run in tests/test_hostile_input.py: hostile text, any JSON, and
bodies shaped like REST, Telegram and Slack webhook calls (and not)."""

import json

from hypothesis import strategies as st

FUZZ_SENDERS = ("fuzz-a", "fuzz-b", "fuzz-c")  # few, so the rate limit keeps the fuzz run short

JSON_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=50),
    st.binary(max_size=20).map(repr),
)
ANY_JSON = st.recursive(
    JSON_LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
HOSTILE_TEXT = st.one_of(
    st.text(max_size=200),
    st.text(st.characters(codec="utf-8", categories=["Cc", "Cf", "Zs", "Zl", "Mn", "So"]), max_size=100),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "\ud800",
            "/restart",
            '/greet{"a": ',
            '/report_progress{"journey_step":"x"}',
            "' OR 1=1 --",
            "<script>x</script>",
            "a" * 5000,
        ]
    ),
)
SENDERS = st.one_of(st.sampled_from(FUZZ_SENDERS), st.sampled_from(FUZZ_SENDERS), JSON_LEAVES, st.text(max_size=140))


def rest_bodies() -> st.SearchStrategy[bytes]:
    shaped = st.fixed_dictionaries(
        {"sender": SENDERS, "message": st.one_of(HOSTILE_TEXT, JSON_LEAVES)},
        optional={"metadata": ANY_JSON, "input_channel": JSON_LEAVES},
    ).map(lambda body: json.dumps(body).encode())
    return st.one_of(shaped, shaped, ANY_JSON.map(lambda body: json.dumps(body).encode()), st.binary(max_size=300))


def telegram_bodies() -> st.SearchStrategy[bytes]:
    message = st.fixed_dictionaries(
        {
            "chat": st.one_of(
                st.fixed_dictionaries({"id": st.sampled_from([11, 12]), "type": st.sampled_from(["private", "group"])}),
                ANY_JSON,
            )
        },
        optional={"text": st.one_of(HOSTILE_TEXT, JSON_LEAVES), "from": ANY_JSON, "photo": ANY_JSON},
    )
    update = st.fixed_dictionaries(
        {"update_id": st.one_of(st.integers(), JSON_LEAVES)},
        optional={"message": st.one_of(message, ANY_JSON), "callback_query": ANY_JSON, "edited_message": ANY_JSON},
    ).map(lambda body: json.dumps(body).encode())
    return st.one_of(update, update, st.binary(max_size=200))


def slack_bodies() -> st.SearchStrategy[tuple[str, bytes]]:
    event = st.fixed_dictionaries(
        {
            "type": st.sampled_from(["message", "app_mention", "reaction_added"]),
            "user": st.one_of(st.sampled_from(["U1", "U2"]), JSON_LEAVES),
        },
        optional={
            "channel": st.one_of(st.just("D1"), JSON_LEAVES),
            "channel_type": st.just("im"),
            "text": st.one_of(HOSTILE_TEXT, JSON_LEAVES),
            "subtype": JSON_LEAVES,
        },
    )
    envelope = st.fixed_dictionaries(
        {"type": st.sampled_from(["event_callback", "url_verification", "block_actions", "other"])},
        optional={
            "event": st.one_of(event, ANY_JSON),
            "event_id": st.text(max_size=12),
            "team_id": JSON_LEAVES,
            "challenge": JSON_LEAVES,
            "actions": ANY_JSON,
        },
    ).map(lambda body: json.dumps(body).encode())
    json_body = st.tuples(
        st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain"]), envelope
    )
    form_body = st.tuples(st.just("application/x-www-form-urlencoded"), st.binary(max_size=200))
    return st.one_of(json_body, json_body, form_body)
