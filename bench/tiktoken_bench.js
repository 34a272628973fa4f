#!/usr/bin/env node
// The reference side of bench/tokenizer_bench: times npm tiktoken@1.0.22
// (tiktoken's Rust core as WASM) encoding FILE with every special allowed,
// the same way the C++ side times ember (one warm-up, then REPEATS timed
// encodes of the whole text). Prints one JSON line:
//   {"load_ms", "median_s", "min_s", "num_tokens", "hash"}
// hash = h * 31 + id (mod 2^32) over the ids, to check they are identical.
'use strict';
const fs = require('fs');

const [file, repeatsArg] = process.argv.slice(2);
const repeats = Number(repeatsArg || 5);
const text = new TextDecoder('utf-8', { fatal: true }).decode(fs.readFileSync(file));
const t0 = process.hrtime.bigint();
const { get_encoding } = require('tiktoken');
const enc = get_encoding('gpt2');
const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;
let ids = enc.encode(text, 'all');  // warm-up
const times = [];
for (let r = 0; r < repeats; r++) {
  const a = process.hrtime.bigint();
  ids = enc.encode(text, 'all');
  times.push(Number(process.hrtime.bigint() - a) / 1e9);
}
let h = 0;
for (const id of ids) h = (Math.imul(h, 31) + id) >>> 0;
times.sort((x, y) => x - y);
const median = times.length % 2 ? times[(times.length - 1) / 2]
  : (times[times.length / 2 - 1] + times[times.length / 2]) / 2;
enc.free();
console.log(JSON.stringify({ load_ms: loadMs, median_s: median, min_s: times[0], num_tokens: ids.length, hash: h }));
