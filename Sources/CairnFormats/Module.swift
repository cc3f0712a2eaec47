// CairnFormats: see README.md
