// CairnErasure: see README.md
