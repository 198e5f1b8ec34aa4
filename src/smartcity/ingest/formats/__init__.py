"""Reading submitted files: format and encoding detection, CSV/XLSX/JSON Lines readers."""
