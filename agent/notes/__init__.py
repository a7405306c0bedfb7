"""The note reader: one way to read a clinical note for every playbook (sections, wrapped
lines joined, sentences with exact offsets, assertion context). docs/note-reader.md."""
