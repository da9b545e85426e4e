"""Production is told apart from a developer's machine (secondlook/deployment.py): a production process
refuses to start on the public development secrets, or with one secret doing two jobs; `make run` only
warns. The summary-link key is a secret of its own, and a link's lifetime is capped when it is checked."""

import os
import subprocess
import time

import pytest

from secondlook import deployment
from secondlook.devtools.servers import VENV_BIN
from secondlook.paths import PROJECT_ROOT
from secondlook.summary import link_ttl_seconds, sign_token, verify_token

OWN_SECRETS = {"SECONDLOOK_ID_SALT": "salt-0123456789abcdef", "SECONDLOOK_LINK_SECRET": "link-0123456789abcdef"}


@pytest.fixture
def clean_env(monkeypatch):
    for name in ("SECONDLOOK_DEPLOYMENT", "SECONDLOOK_ID_SALT", "SECONDLOOK_LINK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_production_is_recognised_only_when_declared(clean_env):
    assert not deployment.is_production()
    clean_env.setenv("SECONDLOOK_DEPLOYMENT", "production")
    assert deployment.is_production()


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({}, "SECONDLOOK_ID_SALT"),
        ({"SECONDLOOK_ID_SALT": "secondlook-dev-salt"}, "SECONDLOOK_ID_SALT"),
        ({"SECONDLOOK_ID_SALT": OWN_SECRETS["SECONDLOOK_ID_SALT"]}, "SECONDLOOK_LINK_SECRET"),
        ({"SECONDLOOK_ID_SALT": "short", "SECONDLOOK_LINK_SECRET": OWN_SECRETS["SECONDLOOK_LINK_SECRET"]}, "short"),
        ({"SECONDLOOK_ID_SALT": "same-0123456789abcdef", "SECONDLOOK_LINK_SECRET": "same-0123456789abcdef"}, "differ"),
    ],
)
def test_production_refuses_public_short_or_shared_secrets(clean_env, env, problem):
    clean_env.setenv("SECONDLOOK_DEPLOYMENT", "production")
    for name, value in env.items():
        clean_env.setenv(name, value)
    with pytest.raises(SystemExit) as refused:
        deployment.check_secrets("the test")
    assert problem in str(refused.value) and "refusing to start" in str(refused.value)


def test_production_starts_with_secrets_of_its_own(clean_env):
    clean_env.setenv("SECONDLOOK_DEPLOYMENT", "production")
    for name, value in OWN_SECRETS.items():
        clean_env.setenv(name, value)
    deployment.check_secrets("the test")


def test_development_only_warns(clean_env, caplog):
    clean_env.setattr(deployment, "_warned", set())
    deployment.check_secrets("the test")
    assert "SECONDLOOK_ID_SALT" in caplog.text and "SECONDLOOK_LINK_SECRET" in caplog.text


def test_the_rasa_server_refuses_to_start_in_production_without_its_secrets():
    env = {key: value for key, value in os.environ.items() if key not in OWN_SECRETS}
    env.update(SECONDLOOK_DEPLOYMENT="production", SECONDLOOK_API_TOKEN="a-token-for-this-test")
    started = time.monotonic()
    result = subprocess.run(
        [str(VENV_BIN / "python"), "scripts/rasa_server.py", "--model", "models", "--port", "1"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode != 0
    assert "SECONDLOOK_ID_SALT" in result.stderr and "refusing to start" in result.stderr
    assert time.monotonic() - started < 60  # before the model is loaded


def test_the_link_secret_is_not_derived_from_the_salt(clean_env):
    """Knowing the salt must not let anyone sign links: the link key doesn't change with the salt."""
    clean_env.setenv("SECONDLOOK_ID_SALT", OWN_SECRETS["SECONDLOOK_ID_SALT"])
    token = sign_token("a" * 64, now=1000, ttl=60)
    clean_env.setenv("SECONDLOOK_ID_SALT", "another-salt-0123456789")
    assert verify_token(token, now=1000) == "a" * 64
    clean_env.setenv("SECONDLOOK_LINK_SECRET", OWN_SECRETS["SECONDLOOK_LINK_SECRET"])
    assert verify_token(token, now=1000) is None


def test_a_link_that_claims_a_longer_life_than_allowed_is_refused(clean_env):
    """Checked on verification too: a link signed with a long lifetime (a misconfigured replica, an old
    release) is not honoured beyond the lifetime the verifying server allows."""
    clean_env.setenv("SECONDLOOK_SUMMARY_LINK_TTL", "3600")
    assert verify_token(sign_token("a" * 64, now=1000, ttl=3600), now=1000) == "a" * 64
    assert verify_token(sign_token("a" * 64, now=1000, ttl=30 * 86400), now=1000) is None


def test_the_configured_lifetime_is_capped(clean_env):
    clean_env.setenv("SECONDLOOK_SUMMARY_LINK_TTL", str(365 * 86400))
    assert link_ttl_seconds() == 86400
