"""The patches of Rasa's own code check, at start, that they meet the Rasa they were written for."""

import pytest
from sanic import Blueprint

from channels import rasa_patches
from channels.rasa_patches import PATCHED, WRITTEN_FOR, Patched, RasaChanged, check


def test_the_installed_rasa_is_the_one_the_patches_were_written_for():
    for patched in PATCHED:
        check(patched)


def changed_run(self, output_channel, nlg, tracker, domain):
    return []  # another body: the code the patch wraps is not the code it was read against


@pytest.mark.parametrize("patched", PATCHED, ids=lambda patched: patched.name)
def test_a_patch_refuses_rasa_code_whose_source_differs(patched):
    with pytest.raises(RasaChanged, match="is not the code"):
        check(Patched(patched.name, lambda: changed_run, patched.sha256))


@pytest.mark.parametrize("patched", PATCHED, ids=lambda patched: patched.name)
def test_a_patch_refuses_another_rasa_version(patched):
    assert WRITTEN_FOR == "3.6.21"
    with pytest.raises(RasaChanged, match="written for Rasa 3.6.21, this is Rasa 3.7.0"):
        check(patched, version="3.7.0")


def test_a_channel_does_not_start_on_rasa_code_it_was_not_written_for(monkeypatch):
    first = PATCHED[0]
    monkeypatch.setattr(rasa_patches, "PATCHED", (Patched(first.name, lambda: changed_run, first.sha256),))
    with pytest.raises(RasaChanged):
        rasa_patches.apply(Blueprint("patch_check_test"))
