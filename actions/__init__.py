"""SecondLook's custom actions: thin Rasa SDK Action classes over plain, testable modules."""
