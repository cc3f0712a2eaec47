// CairnGrid: see README.md
