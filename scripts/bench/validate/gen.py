"""Writes a SageMaker-style augmented manifest with about 1% bad records.

usage: gen.py LINES OUT.manifest BAD_LINES.txt
The bad line numbers (1-based) go to BAD_LINES.txt, one per line.
"""
import json
import random
import sys

CLASSES = ["cat", "dog", "bird", "fish", "horse", "sheep", "cow", "bear", "zebra", "giraffe"]


def good(rng, i):
    label = rng.randrange(10)
    return {
        "source-ref": f"s3://datalfs-bench-images/train/{i // 1000:04d}/img-{i:08d}.jpg",
        "animal": label,
        "animal-metadata": {
            "class-name": CLASSES[label],
            "confidence": round(rng.random(), 4),
            "human-annotated": rng.choice(["yes", "no"]),
            "creation-date": f"2026-11-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d}.{i % 1000:03d}",
            "job-name": "labeling-job/animals-2026-11",
            "type": "groundtruth/image-classification",
        },
    }


def spoil(rng, rec):
    """Breaks a record in one of several ways; returns the line text."""
    kind = rng.randrange(9)
    meta = rec["animal-metadata"]
    if kind == 0:
        rec["animal"] = str(rec["animal"])  # wrong type
    elif kind == 1:
        del rec["animal-metadata"]  # missing required property
    elif kind == 2:
        meta["confidence"] = 1 + rng.random()  # above maximum
    elif kind == 3:
        meta["class-name"] = "unicorn"  # not in enum
    elif kind == 4:
        meta["job-name"] = "Labeling Job #7"  # pattern
    elif kind == 5:
        rec["comment"] = "looks blurry"  # additional property
    elif kind == 6:
        rec["source-ref"] = rec["source-ref"].replace("s3://", "https://")  # pattern
    elif kind == 7:
        meta["creation-date"] = "26/11/2026"  # pattern
    else:
        return json.dumps(rec)[:-7]  # malformed JSON: cut short
    return json.dumps(rec)


def main():
    n, out, bad_out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    rng = random.Random(20261126)
    bad = []
    with open(out, "w") as f:
        for i in range(1, n + 1):
            rec = good(rng, i)
            if rng.random() < 0.01:
                bad.append(i)
                f.write(spoil(rng, rec) + "\n")
            else:
                f.write(json.dumps(rec) + "\n")
    with open(bad_out, "w") as f:
        f.write("".join(f"{i}\n" for i in bad))


if __name__ == "__main__":
    main()
