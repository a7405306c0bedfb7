"""The note reader: one way to read a clinical note for every playbook.

It gives sections, wrapped lines joined, sentences with exact offsets and assertion
context. See docs/note-reader.md.
"""
