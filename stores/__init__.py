"""Storage extensions that run inside the Rasa server process."""
