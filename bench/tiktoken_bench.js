#!/usr/bin/env node
// The reference side of bench/tokenizer_bench: times npm tiktoken@1.0.22
// (tiktoken's Rust core as WASM) encoding FILE with every special allowed,
// the same way the C++ side times ember (one warm-up, then REPEATS timed
// encodes of the whole text). Prints one JSON line:
//   {"load_ms", "median_s", "min_s", "cpu_median_s", "num_tokens", "hash"}
// cpu_median_s is process CPU time (user + system) per encode, which a busy
// shared machine disturbs less than wall time.
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
const cpuTimes = [];
for (let r = 0; r < repeats; r++) {
  const c = process.cpuUsage();
  const a = process.hrtime.bigint();
  ids = enc.encode(text, 'all');
  times.push(Number(process.hrtime.bigint() - a) / 1e9);
  const d = process.cpuUsage(c);
  cpuTimes.push((d.user + d.system) / 1e6);
}
let h = 0;
for (const id of ids) h = (Math.imul(h, 31) + id) >>> 0;
const medianOf = (xs) => {
  xs.sort((x, y) => x - y);
  return xs.length % 2 ? xs[(xs.length - 1) / 2] : (xs[xs.length / 2 - 1] + xs[xs.length / 2]) / 2;
};
const median = medianOf(times);
const cpuMedian = medianOf(cpuTimes);
enc.free();
console.log(JSON.stringify({
  load_ms: loadMs, median_s: median, min_s: times[0], cpu_median_s: cpuMedian, num_tokens: ids.length, hash: h,
}));
