#!/usr/bin/env python3
"""Writes a git fast-import stream of a synthetic project history to stdout.

Usage: make-git-history.py COMMITS FILES SEED | git fast-import --quiet

Realistic edits, reproducible from SEED: a few thousand text files of 1-30 KB; each commit edits 1-6 files
(lines inserted, deleted, replaced, a block moved), sometimes adds, deletes or renames one; one executable in
fifty; a topic branch every ~200 commits merged back with a merge commit; an annotated tag every 500 commits.
"""
import random
import sys

commits, nfiles, seed = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(seed)
out = sys.stdout.buffer
words = ("the of and to in is that for it with as was on be by this are from or have an they which one you "
         "were her all she there would their we him been has when who will more no if out so said what up its "
         "about into than them can only other new some could time these two may then do first any my now such "
         "like our over man me even most made after also did many before must through back years where much "
         "your way well down should because each just those people how too little state good very make world "
         "still own see men work long get here between both life being under never day same another know while "
         "last might us great old year off come since against go came right used take three").split()


def line():
    return " ".join(rng.choice(words) for _ in range(rng.randint(3, 14))) + "\n"


files = {}
dirs = ["src", "src/core", "src/util", "src/net", "docs", "tests", "tests/unit", "lib", "tools", "assets/text"]
for i in range(nfiles):
    path = "%s/file%05d.%s" % (rng.choice(dirs), i, rng.choice(["c", "h", "py", "md", "txt", "swift"]))
    files[path] = [line() for _ in range(rng.randint(20, 400))]
executable = {p for p in files if rng.random() < 0.02}
mark = 0
when = 1500000000


def blob(lines):
    global mark
    mark += 1
    data = "".join(lines).encode()
    out.write(b"blob\nmark :%d\ndata %d\n" % (mark, len(data)) + data + b"\n")
    return mark


def edit(lines):
    for _ in range(rng.randint(1, 4)):
        k = rng.random()
        at = rng.randrange(len(lines) + 1)
        if k < 0.45:
            lines[at:at] = [line() for _ in range(rng.randint(1, 8))]
        elif k < 0.7 and len(lines) > 10:
            del lines[at:at + rng.randint(1, 5)]
        elif k < 0.95 and lines:
            for j in range(at, min(len(lines), at + rng.randint(1, 4))):
                lines[j] = line()
        elif len(lines) > 20:
            block = lines[at:at + 10]
            del lines[at:at + 10]
            to = rng.randrange(len(lines) + 1)
            lines[to:to] = block


def commit(ref, changes, parents, message):
    """changes: list of (path, lines or None for delete)."""
    global mark, when
    marks = [(p, blob(l) if l is not None else None) for p, l in changes]
    mark += 1
    when += rng.randint(60, 20000)
    msg = message.encode()
    out.write(b"commit %s\nmark :%d\n" % (ref.encode(), mark))
    out.write(b"author Dev %d <dev%d@example.com> %d +0100\n" % (mark % 7, mark % 7, when))
    out.write(b"committer Dev %d <dev%d@example.com> %d +0100\n" % (mark % 7, mark % 7, when))
    out.write(b"data %d\n%s\n" % (len(msg), msg))
    if parents:
        out.write(b"from :%d\n" % parents[0])
        for p in parents[1:]:
            out.write(b"merge :%d\n" % p)
    for p, m in marks:
        if m is None:
            out.write(b"D %s\n" % p.encode())
        else:
            out.write(b"M %s :%d %s\n" % (b"100755" if p in executable else b"100644", m, p.encode()))
    return mark


# The first commit holds every file.
tip = commit("refs/heads/main", list(files.items()), [], "initial import\n")
topic = None
n = 1
while n < commits:
    if topic is None and rng.random() < 1 / 200:
        topic = (tip, [], set())  # a topic branch starts here: base, its commits, the paths it changed
    changes = []
    for _ in range(rng.randint(1, 6)):
        p = rng.choice(list(files))
        edit(files[p])
        changes.append((p, files[p]))
    r = rng.random()
    if r < 0.02:
        p = "%s/new%06d.txt" % (rng.choice(dirs), n)
        files[p] = [line() for _ in range(rng.randint(5, 200))]
        changes.append((p, files[p]))
    elif r < 0.03 and len(files) > 100:
        p = rng.choice(list(files))
        del files[p]
        changes.append((p, None))
    elif r < 0.04 and len(files) > 100:
        p = rng.choice(list(files))
        q = "%s/moved%06d.txt" % (rng.choice(dirs), n)
        files[q] = files.pop(p)
        changes += [(p, None), (q, files[q])]
    if topic is not None:
        base, work, touched = topic
        ref = "refs/heads/topic"
        parent = work[-1] if work else base
        work.append(commit(ref, changes, [parent], "topic work %d\n" % n))
        touched.update(p for p, _ in changes)
        if len(work) >= rng.randint(3, 12):
            n += 1
            # The merge takes the topic's version of every path it changed.
            merged = [(p, files.get(p)) for p in sorted(touched)]
            tip = commit("refs/heads/main", merged, [tip, work[-1]], "Merge branch 'topic'\n")
            topic = None
    else:
        tip = commit("refs/heads/main", changes, [tip], "change %d: %s" % (n, line()))
    n += 1
    if n % 500 == 0:
        out.write(b"tag v%d\nfrom :%d\ntagger Rel <rel@example.com> %d +0000\ndata 8\nrelease\n\n" % (n // 500, tip, when))
out.write(b"reset refs/heads/topic\nfrom :%d\n\n" % tip)
