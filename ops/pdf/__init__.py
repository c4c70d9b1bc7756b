"""PDF handling on pypdfium2: opening with clear errors, text layers, inspection, rendering."""
