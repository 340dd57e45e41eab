"""Validates a JSON Lines manifest with Python's jsonschema (the engine of
check-jsonschema) and prints the bad line numbers, one per line.

usage: validate.py SCHEMA.json MANIFEST
"""
import json
import sys

import jsonschema


def main():
    with open(sys.argv[1]) as f:
        schema = json.load(f)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema)
    out = sys.stdout
    with open(sys.argv[2], encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                out.write(f"{n}\n")
                continue
            # All errors, as datalfs and ajv (allErrors) report them.
            if list(validator.iter_errors(rec)):
                out.write(f"{n}\n")


if __name__ == "__main__":
    main()
