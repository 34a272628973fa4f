#!/usr/bin/env node
// The tokenizer oracle: tiktoken@1.0.22 (tiktoken's Rust core compiled to
// WASM), encoding `gpt2` with every special token allowed.
//
//   node tiktoken_oracle.js encode FILE        ids of FILE's text, one line,
//                                              separated by single spaces
//   node tiktoken_oracle.js jsonl < IN > OUT   each input line is a JSON
//                                              string; each output line the
//                                              JSON array of its ids
// Invalid UTF-8 in FILE is an error (tiktoken encodes JS strings).
'use strict';
const fs = require('fs');
const { get_encoding } = require('tiktoken');

function decodeUtf8Strict(buf, what) {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(buf);
  } catch (e) {
    throw new Error(`${what}: invalid utf-8`);
  }
}

function main() {
  const [mode, arg] = process.argv.slice(2);
  const enc = get_encoding('gpt2');
  try {
    if (mode === 'encode') {
      const text = decodeUtf8Strict(fs.readFileSync(arg), arg);
      process.stdout.write(Array.from(enc.encode(text, 'all')).join(' ') + '\n');
    } else if (mode === 'jsonl') {
      const lines = fs.readFileSync(0, 'utf8').split('\n');
      const out = [];
      for (const line of lines) {
        if (line === '') continue;
        out.push(JSON.stringify(Array.from(enc.encode(JSON.parse(line), 'all'))));
      }
      process.stdout.write(out.join('\n') + (out.length ? '\n' : ''));
    } else {
      process.stderr.write('usage: tiktoken_oracle.js encode FILE | jsonl\n');
      process.exitCode = 2;
    }
  } finally {
    enc.free();
  }
}

main();
