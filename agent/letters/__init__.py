"""Letters: drafting Markdown from templates and exporting the approved DOCX."""
