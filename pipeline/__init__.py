"""SecondLook's own Rasa NLU pipeline components."""
