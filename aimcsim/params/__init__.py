"""The ground floor: what every input reader stands on (bounded, special-file-aware reading of
files; `files`)."""
