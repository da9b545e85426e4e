"""SecondLook's own input channels (keyed in credentials.yml by module path)."""
