// Validates a JSON Lines manifest with ajv 8 (draft 2020-12, allErrors) and
// prints the bad line numbers, one per line.
//
// usage: node validate.js SCHEMA.json MANIFEST   (NODE_PATH must hold ajv)
"use strict";
const fs = require("fs");
const readline = require("readline");
const Ajv2020 = require("ajv/dist/2020").default;

async function main() {
  const [schemaPath, manifest] = process.argv.slice(2);
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  const validate = ajv.compile(JSON.parse(fs.readFileSync(schemaPath, "utf8")));
  const rl = readline.createInterface({
    input: fs.createReadStream(manifest, { highWaterMark: 1 << 20 }),
    crlfDelay: Infinity,
  });
  const out = [];
  let n = 0;
  for await (const line of rl) {
    n++;
    if (line.trim() === "") continue;
    let rec;
    try {
      rec = JSON.parse(line);
    } catch (e) {
      out.push(n);
      continue;
    }
    if (!validate(rec)) out.push(n);
  }
  process.stdout.write(out.map((x) => x + "\n").join(""));
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
