"""SecondLook's domain: plain modules with no Rasa SDK in them, imported by both servers and the scripts."""
